"""Small shared helpers: request parsing, bounded body streams, time formats, the nearest valid name."""
