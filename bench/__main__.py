"""Run every benchmark: ``python -m bench [name ...]``."""

from __future__ import annotations

import sys

from bench import delivery, deployed, door, engine, foundation, hl7, kafka, kafka_roles, soak

BENCHMARKS = {"foundation": foundation.main, "engine": engine.main, "hl7": hl7.main, "delivery": delivery.main,
              "kafka": kafka.main, "kafka-roles": kafka_roles.main, "door": door.main,
              "deployed": lambda: deployed.main([]), "soak": lambda: soak.main([])}


def main() -> None:
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
