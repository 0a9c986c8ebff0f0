"""The emulator's settings (:class:`Settings`) and their readable errors."""
