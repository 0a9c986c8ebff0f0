"""Load tests with Locust: ``dashscope-mock load retry|capacity``.

The Locust user classes live in :mod:`.retry` and :mod:`.capacity` (the only
modules here that import Locust; ``load/retry.py`` and ``load/capacity.py``
re-export them for ``locust -f``). Everything else (the built-in clients, the
job log, what the emulator saw, the summary) is plain Python, so the command
and the tests never load gevent into their own process.
"""
