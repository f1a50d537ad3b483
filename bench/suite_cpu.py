"""Sum the per-test figures that ``COFFER_TEST_CPU=<directory> pytest ...`` wrote (tests/conftest.py).

    python bench/suite_cpu.py <directory> [--top 15]

Prints the tests' CPU seconds and wall seconds in all, per module, and the slowest tests by CPU time: on a
machine shared with others, CPU time is what the suite costs, wall time what it took.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--modules", type=int, default=15)
    options = parser.parse_args()
    records = [json.loads(line) for path in sorted(options.directory.glob("*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cpu = sum(r["cpu"] for r in records)
    wall = sum(r["wall"] for r in records)
    print(f"{len(records)} tests: {cpu:.0f} s CPU, {wall:.0f} s wall (summed over workers)")
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in records:
        module = modules[r["test"].split("::")[0]]
        module[0] += r["cpu"]
        module[1] += r["wall"]
        module[2] += 1
    print("\nmodules by CPU:")
    for name, (c, w, n) in sorted(modules.items(), key=lambda kv: -kv[1][0])[:options.modules]:
        print(f"{c:8.1f} s CPU {w:8.1f} s wall {int(n):4d} tests  {name}")
    print("\ntests by CPU:")
    for r in sorted(records, key=lambda r: -r["cpu"])[:options.top]:
        print(f"{r['cpu']:8.1f} s CPU {r['wall']:8.1f} s wall  {r['test']}")


if __name__ == "__main__":
    main()
