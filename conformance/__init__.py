"""The client conformance harness: numbered cases that grade any DashScope client, in any language.

``dashscope-mock conformance list|run|report``; the adapter contract and the
case catalogue are in ``docs/conformance.md``.
"""
