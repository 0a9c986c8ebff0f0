"""Input images: which URLs the emulator may fetch, the guarded download and the Pillow checks."""
