"""The emulator's domain: tasks, accounts, synchronous calls, fine-tunes, the clock, the journal and its metrics, snapshots."""
