"""The HTTP layer: thin routes, the gateway in front of them, and DashScope-exact rendering."""
