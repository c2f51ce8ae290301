"""``make bench``: every benchmark in BENCHES, one after the other, then a table of figures.

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME,...] [--markdown FILE]

To add a benchmark, add a ``Bench`` to BENCHES: its module (run as ``python -m``), the
arguments of a full run and of a ``--quick`` run (only flags it takes: the test in
tests/benchmarks/ checks them against the bench's ``parser()``, or its ``--help``).  A bench
that prints figures through ``benchmarks.report.show`` also gets a row in the closing table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.report import RECORD_ENV, fmt  # noqa: E402


@dataclass(frozen=True)
class Bench:
    """One benchmark module and how run.py calls it."""

    module: str
    full: list[str] = field(default_factory=list)
    quick: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.module.rsplit(".", 1)[-1].removeprefix("bench_")


BENCHES = [
    Bench("benchmarks.bench_fabric", quick=["--quick"]),
    Bench("benchmarks.bench_fileops", quick=["--quick"]),
    Bench("benchmarks.bench_gateway", full=["--seconds", "3"],
          quick=["--seconds", "2", "--subscribers", "50", "--rounds", "1"]),
    Bench("benchmarks.bench_fuzz", quick=["--quick"]),
    Bench("benchmarks.bench_probe", quick=["--quick"]),
    Bench("benchmarks.bench_match", quick=["--quick"]),
    Bench("benchmarks.bench_curve", quick=["--quick"]),
]


def table(path: str) -> str:
    """The recorded figures as a Markdown table."""
    rows = []
    with open(path) as fh:
        for line in fh:
            r = json.loads(line)
            if r["median"] != r["median"]:
                value, spread = "n/a (< 1,000 samples)" if r["rounds"] == 0 else "n/a", ""
            else:
                value = f"{fmt(r['median'])} {r['unit']}"
                spread = "" if r["rounds"] < 2 else f"{fmt(r['min'])}-{fmt(r['max'])}"
            rows.append(f"| {r['who']} | {r['label']} | {value} | {spread} | {r['target']} |")
    head = ["| who | figure | median | min-max | target |", "|---|---|---|---|---|"]
    return "\n".join(head + rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="each bench's smoke-run arguments")
    p.add_argument("--only", default="", help="comma-separated names: "
                   + ", ".join(b.name for b in BENCHES))
    p.add_argument("--markdown", default="", help="also write the closing table to this file")
    args = p.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    fd, record = tempfile.mkstemp(prefix="bench-record-", suffix=".jsonl")
    os.close(fd)
    env = {**os.environ, RECORD_ENV: record}
    code = 0
    t0 = time.monotonic()
    command = " ".join(["benchmarks/run.py", *sys.argv[1:]])
    try:
        for bench in BENCHES:
            if only and bench.name not in only:
                continue
            path = os.path.join(ROOT, *bench.module.split(".")) + ".py"
            if not os.path.exists(path):
                continue
            argv = bench.quick if args.quick else bench.full
            print(f"== {bench.module} {' '.join(argv)}".rstrip(), flush=True)
            started = time.monotonic()
            rc = subprocess.call([sys.executable, "-m", bench.module, *argv], cwd=ROOT, env=env)
            print(f"== {bench.name}: {time.monotonic() - started:.0f} s, exit {rc}", flush=True)
            code |= rc
        text = table(record)
        stamp = time.strftime("%Y-%m-%d %H:%M")
        print(f"\n`{command}` ({stamp}, {time.monotonic() - t0:.0f} s, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f} at the end)\n\n{text}", flush=True)
        if args.markdown:
            with open(args.markdown, "w") as fh:
                fh.write(text + "\n")
    finally:
        os.unlink(record)
    return code


if __name__ == "__main__":
    sys.exit(main())
