"""Locust profile ``retry``: copies of one client share one account (see docs/load-testing.md).

    locust -f load/retry.py --host http://127.0.0.1:8580 --client naive --users 20 --headless -t 1m

The profile's code ships inside the package (``mockserver.loadtest.retry``) so
``dashscope-mock load retry`` works from any installation; this file is the
locustfile for running it with Locust's own command.
"""

from mockserver.loadtest.retry import RetryUser  # noqa: F401  (Locust finds the User class here)
