"""Core fabric figures, each the median [min-max] of ``--rounds`` rounds (3 by default).

    .venv/bin/python -m benchmarks.bench_fabric [--quick] [--rounds N] [--only SECTION,...]
                                                [--anchors | --no-anchors]

Sections (all real processes on loopback, fresh ports and a temporary store):

- throughput: the raw 3-process relay floor, no-op jobs/s end to end with 2 worker processes
  and single-job latency, and, when ``make bench-anchors`` has installed them, Celery and
  Dramatiq through the same workload, interleaved round by round (fabric_throughput.py);
- control: START/CANCEL ack idle and under item load, STATUS under progress load
  (fabric_control.py);
- events: events/s to one subscriber over an exact window (fabric_events.py);
- rss: broker RSS after 100,000 finished jobs (10,000 with --quick).

Every p99 printed rests on at least 1,000 samples per round; where a round had fewer, it says
n/a.  ``--quick`` is one round with fewer jobs; windows and 1,000-sample latencies stay the same.
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks import anchors, fabric_control, fabric_events, fabric_throughput

SECTIONS = ("throughput", "control", "events", "rss")


def parser() -> argparse.ArgumentParser:
    """The command line (run.py's checks parse its quick flags with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer jobs per round (a smoke run)")
    p.add_argument("--rounds", type=int, default=None,
                   help="repeats of each figure (3; 1 with --quick)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections of {', '.join(SECTIONS)}")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--anchors", action="store_true", default=None,
                       help="measure Celery and Dramatiq (fails if not installed)")
    group.add_argument("--no-anchors", dest="anchors", action="store_false",
                       help="skip them even when installed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser().error(f"unknown section {', '.join(sorted(unknown))}; sections: "
                       f"{', '.join(SECTIONS)}")
    if args.anchors and not anchors.available():
        parser().error(f"--anchors: not installed; {anchors.HOW}")
    with_anchors = anchors.available() if args.anchors is None else args.anchors
    q = args.quick
    rounds = max(1, args.rounds or (1 if q else 3))
    for section in only:
        t0 = time.monotonic()
        n = 1 if section == "rss" else rounds
        print(f"-- {section} ({n} round{'s' * (n > 1)}{', quick' if q else ''}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
        if section == "throughput":
            load = anchors.Load(jobs=3_000 if q else 10_000, window=200,
                                cap_s=5.0 if q else 10.0, latency_jobs=1_000,
                                latency_cap_s=10.0 if q else 20.0)
            fabric_throughput.run(rounds, fabric_throughput.Sizes(
                load, relay_jobs=20_000 if q else 50_000, relay_cap_s=3.0 if q else 5.0),
                with_anchors)
        elif section == "control":
            fabric_control.run(rounds, fabric_control.Sizes(
                idle=1_000 if q else 2_000, load=1_000 if q else 2_000,
                status=1_000 if q else 2_000, cap_s=10.0 if q else 15.0))
        elif section == "events":
            fabric_events.run_events(rounds, window_s=2.0 if q else 3.0)
        elif section == "rss":
            fabric_events.run_rss(9_000 if q else 99_000, window=200)
        print(f"   {section}: {time.monotonic() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
