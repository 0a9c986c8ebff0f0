"""The process around the app: uvicorn serving, its bounded connections, log lines and the start-up banner."""
