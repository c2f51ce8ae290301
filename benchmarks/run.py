"""``make bench``: every benchmark, one after the other, printing figures and ratios."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = ["benchmarks.bench_fabric", "benchmarks.bench_fileops", "benchmarks.bench_gateway",
           "benchmarks.bench_fuzz"]


def main() -> int:
    code = 0
    for name in BENCHES:
        path = os.path.join(ROOT, *name.split(".")) + ".py"
        if not os.path.exists(path):
            continue
        print(f"== {name}", flush=True)
        code |= subprocess.call([sys.executable, "-m", name, *sys.argv[1:]], cwd=ROOT)
    return code


if __name__ == "__main__":
    sys.exit(main())
