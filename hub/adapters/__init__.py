"""Adapters: one subpackage per source or target system, with pure ``parse``/``render`` and a
separate ``transport`` for the I/O."""
