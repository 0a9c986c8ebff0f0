"""Reference adapters: programs that run one conformance job with one client and print its results.

Each reads ``DASHSCOPE_CONFORMANCE_JOB`` (and the base URL and key) from the
environment and prints, as its last stdout line, a JSON array with one result
object per task (see ``docs/conformance.md``).
"""
