"""Benchmarks. ``./dev bench`` runs them all; each figure is one JSON object per line:
{"name", "value", "unit", "baseline", "ratio"}, the baseline measured in the same run."""
