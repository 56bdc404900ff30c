"""Pure domain logic: episode state, deadlines, routing decisions, alert policy, statistics.

Imports only the standard library and ``hub.schemas``; never the wall clock, never I/O.
"""
