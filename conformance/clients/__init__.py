"""Clients of the DashScope task API that the harness ships: the raw-HTTP reference client."""
