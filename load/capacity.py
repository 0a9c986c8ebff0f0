"""Locust profile ``capacity``: how much traffic the emulator takes (see docs/load-testing.md).

    locust -f load/capacity.py --host http://127.0.0.1:8580 --users 200 --headless -t 1m

The profile's code ships inside the package (``mockserver.loadtest.capacity``)
so ``dashscope-mock load capacity`` works from any installation; this file is
the locustfile for running it with Locust's own command.
"""

from mockserver.loadtest.capacity import CapacityUser, Ramp  # noqa: F401  (Locust finds them here)
