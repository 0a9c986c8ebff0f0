"""Faults and scenarios on demand: rules set over the control plane, directives sent in-band.

A request picks up :class:`~.effects.Effects` from the first firing rule of each
kind and from its own directives. Plan effects (a failure, a partial failure,
timing, extra fields) shape the task at submission; HTTP effects (a synchronous
error, a network fault) shape the answer.
"""
