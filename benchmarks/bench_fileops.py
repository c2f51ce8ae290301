"""File-changing job figures (issue #3): rename plan and apply throughput with 1 and 2 worker
processes, rollback ops/s, and dedupe timed side by side with jdupes and rmlint.

Job times come from the job map (``finished - started``: first dispatch to terminal status,
as the broker stamps them); for jobs run at once, from the earliest start to the latest finish.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import Fabric, cpu_s
from benchmarks.report import show
from medialoom.samplelib import FORMAT_NAMES, generate
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.dedupe import KIND as DEDUPE

RUNS = 3  # repeats of each timed figure (1 with --quick)
WAIT_S = 1800.0
PART_NAMES = ("part1", "part2")

# --- helpers ------------------------------------------------------------------------------


def run_jobs(f: Fabric, specs: list[tuple[str, list[str], dict[str, Any], bool]]
             ) -> tuple[list[dict[str, Any]], float, float]:
    """Start every (kind, paths, params, dry_run) at once and wait for all of them.

    Returns (the finished job maps, seconds from the earliest ``started`` to the latest
    ``finished``, wall seconds around start .. the last wait)."""
    with f.client(timeout_s=30.0) as c:
        t0 = time.perf_counter()
        ids = [c.start(kind, paths, params, dry_run=dry)["id"] for kind, paths, params, dry in specs]
        jobs = [c.wait(i, timeout_s=WAIT_S) for i in ids]
        wall = time.perf_counter() - t0
    for job in jobs:
        if job["status"] != "completed":
            raise RuntimeError(f"job {job['id']} ({job['kind']}) ended {job['status']}: "
                               f"{job.get('error')}")
    span = max(j["finished"] for j in jobs) - min(j["started"] for j in jobs)
    return jobs, span, wall


def snapshot(root: str) -> set[str]:
    """Relative paths of every file under root."""
    return {os.path.relpath(os.path.join(d, n), root)
            for d, _, names in os.walk(root) for n in names}


# --- 1.-2. rename -------------------------------------------------------------------------


PARAMS = {"template": "{artist} - {title}", "on_collision": "counter"}


@dataclass
class Plans:
    """Dry runs, one figure of each per run."""

    rates: list[float] = field(default_factory=list)  # files/s, job started..finished
    wall_rates: list[float] = field(default_factory=list)  # files/s, START..WAIT
    worker_cpu_us: list[float] = field(default_factory=list)  # all workers' CPU per file
    broker_cpu_us: list[float] = field(default_factory=list)  # the broker's CPU per file


def dry_run(f: Fabric, parts: list[list[str]], files: int, into: Plans) -> None:
    """One dry-run rename job per part, at once; its figures appended to into."""
    wpids = [p.pid for p in f.worker_procs]
    cpu0 = cpu_s(wpids), cpu_s([f.broker.pid])
    jobs, span, wall = run_jobs(f, [("rename", p, PARAMS, True) for p in parts])
    ops = sum(j["result"]["operations"] for j in jobs)
    if ops != files:
        raise RuntimeError(f"dry run planned {ops} files, expected {files}")
    into.rates.append(files / span)
    into.wall_rates.append(files / wall)
    into.worker_cpu_us.append((cpu_s(wpids) - cpu0[0]) / files * 1e6)
    into.broker_cpu_us.append((cpu_s([f.broker.pid]) - cpu0[1]) / files * 1e6)


def show_plans(label: str, procs: str, how: str, workers: int, plans: Plans) -> None:
    show("ours", f"rename PLAN (dry run) {label}, per worker process, {procs}, {how}, job "
         "started..finished", [v / workers for v in plans.rates], "files/s", target=">= 3,000")
    show("ours", f"  rename PLAN {label}, {procs}, START..WAIT wall, all workers",
         plans.wall_rates, "files/s")
    show("ours", f"  rename PLAN {label}, {procs}: worker CPU per file (all workers)",
         plans.worker_cpu_us, "us",
         note=f"{statistics.median(1e6 / v for v in plans.worker_cpu_us):,.0f} files/s per "
         f"worker CPU-second; broker CPU per file {statistics.median(plans.broker_cpu_us):,.0f}"
         " us")


def bench_rename(tmp: str, files: int, runs: int, plan_only: bool = False) -> None:
    """Per run, a new broker and workers: a cold dry run (tags never read by these workers),
    then a warm one (workers/tagcache.py: the files are unchanged); then, once, a real run
    and its rollback."""
    lib = os.path.join(tmp, "lib")
    half = files // 2
    t0 = time.perf_counter()
    for seed, (name, count) in enumerate(zip(PART_NAMES, (half, files - half), strict=True), 1):
        generate(os.path.join(lib, name), count, seed=seed, formats=tuple(FORMAT_NAMES))
    print(f"rename library: {files:,} tagged audio files (7 formats, 10 corrupt) in 2 top-level "
          f"folders, made in {time.perf_counter() - t0:.1f} s; template '{{artist}} - "
          f"{{title}}', on_collision counter; plan rates over {runs} run{'s' * (runs > 1)}, "
          "each on new worker processes (cold: their first plan of the library; warm: the "
          "second, tags from the per-process cache), median [min-max]")
    time.sleep(2.0)  # the cache keeps files whose ctime is 2 s old (workers/tagcache.py)
    for workers in (1, 2):
        parts = [[lib]] if workers == 1 else [[os.path.join(lib, p)] for p in PART_NAMES]
        cold, warm = Plans(), Plans()
        applied: Callable[[], None] | None = None
        for run in range(runs):
            with Fabric(workers=workers, root=tmp) as f:
                dry_run(f, parts, files, cold)
                dry_run(f, parts, files, warm)
                if run == runs - 1 and not plan_only:
                    applied = apply_and_roll_back(f, lib, parts, files, workers)
        procs = f"{workers} worker process{'es' * (workers > 1)}"
        how = "1 job over the library" if workers == 1 else "2 jobs at once, one per folder"
        show_plans("cold", procs, how, workers, cold)
        show_plans("warm", procs, how, workers, warm)
        if applied is not None:
            applied()


def apply_and_roll_back(f: Fabric, lib: str, parts: list[list[str]], files: int,
                        workers: int) -> Callable[[], None]:
    """A real run (plan + rename) and its rollback, one run each; what prints the figures."""
    before = snapshot(lib)
    jobs, apply_span, apply_wall = run_jobs(f, [("rename", p, PARAMS, False) for p in parts])
    renamed = sum(j["result"].get("renamed", 0) for j in jobs)
    back, rb_span, _ = run_jobs(f, [("rollback", [], {"job": j["id"]}, False) for j in jobs])
    rb_ops = sum(j["result"]["operations"] for j in back)
    restored = snapshot(lib) == before
    if not restored:
        raise RuntimeError("the rollback did not restore the tree")
    return lambda: show_applied(workers, files, apply_span, apply_wall, renamed, rb_ops, rb_span)


def show_applied(workers: int, files: int, apply_span: float, apply_wall: float, renamed: int,
                 rb_ops: int, rb_span: float) -> None:
    procs = f"{workers} worker process{'es' * (workers > 1)}"
    show("ours", f"rename APPLY (plan + rename, real run, after the dry runs), {procs}, all "
         "workers", [files / apply_span], "files/s", note=f"{files / apply_wall:,.0f} wall; "
         f"{renamed:,} renamed; one run")
    show("ours", f"rollback of that apply, {procs}", [rb_ops / rb_span], "ops/s",
         note=f"{rb_ops:,} ops; tree restored: yes; one run")


# --- 3. dedupe ----------------------------------------------------------------------------


@dataclass
class Expected:
    files: int
    bytes: int
    groups: int
    duplicates: int
    reclaimable: int


def make_dupe_tree(root: str, files: int, total: int, dup_fraction: float) -> Expected:
    """files random files of about total bytes, dup_fraction of them copies of others."""
    rng = random.Random(1)
    n_dup = int(files * dup_fraction)
    n_orig = files - n_dup
    mean = total // files
    copies: dict[int, list[int]] = {}
    for j in range(n_dup):
        copies.setdefault(rng.randrange(n_orig), []).append(j)
    written = reclaim = 0
    for i in range(n_orig):
        data = rng.randbytes(rng.randint(mean // 10, mean * 19 // 10))
        targets = [os.path.join(root, f"d{i % 200:03}", f"s{i % 7}", f"f{i:06}.bin")]
        targets += [os.path.join(root, "copies", f"c{j % 100:03}", f"dup{j:06}.bin")
                    for j in copies.get(i, ())]
        for path in targets:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        written += len(data) * len(targets)
        reclaim += len(data) * (len(targets) - 1)
    return Expected(files, written, len(copies), n_dup, reclaim)


def warm(root: str) -> None:
    """Read every file under root once (page cache)."""
    buf = bytearray(1 << 20)
    for d, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(d, n), "rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass


def check(label: str, exp: Expected, groups: int, dups: int, reclaim: int | None = None) -> str:
    ok = groups == exp.groups and dups == exp.duplicates and reclaim in (None, exp.reclaimable)
    extra = "" if reclaim is None else f", {reclaim / 1e6:,.1f} MB reclaimable"
    return (f"{label}: {groups:,} groups, {dups:,} duplicates{extra} -> "
            f"{'matches' if ok else 'MISMATCH with'} the generated tree")


def dedupe_in_process(tree: str, parent: str) -> tuple[float, dict[str, Any]]:
    """Kind dedupe (action report) run in this process, as the worker runs it (4 threads)."""
    async def go() -> tuple[float, dict[str, Any]]:
        asyncio.get_running_loop().set_default_executor(
            concurrent.futures.ThreadPoolExecutor(4))  # the worker's default --threads
        ctx = JobContext(job_id="bench", attempt=1, kind="dedupe", paths=[tree],
                         params=validate_params(DEDUPE, {"action": "report"}), dry_run=False,
                         roots=[parent], reporter=CollectingReporter())
        t0 = time.perf_counter()
        result = await DEDUPE.run(ctx) or {}
        ctx.flush_items()
        return time.perf_counter() - t0, {**ctx.result, **result}
    return asyncio.run(go())


def jdupes_once(tree: str, scratch: str) -> tuple[float, int, int]:
    """(seconds, groups, duplicates) of ``jdupes -r -q tree``."""
    t0 = time.perf_counter()
    out = subprocess.run(["jdupes", "-r", "-q", tree], cwd=scratch, capture_output=True,
                         check=True).stdout
    dt = time.perf_counter() - t0
    groups = [g for g in out.split(b"\n\n") if g.strip()]
    return dt, len(groups), sum(len(g.strip().split(b"\n")) - 1 for g in groups)


def rmlint_once(tree: str, scratch: str) -> tuple[float, int, int]:
    """(seconds, groups, duplicates) of ``rmlint -T df -o json:FILE tree`` (output in scratch)."""
    out = os.path.join(scratch, "rmlint.json")
    t0 = time.perf_counter()
    subprocess.run(["rmlint", "-T", "df", "-o", f"json:{out}", tree], cwd=scratch, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    with open(out) as fh:
        rows = [r for r in json.load(fh) if r.get("type") == "duplicate_file"]
    return dt, sum(r["is_original"] for r in rows), sum(not r["is_original"] for r in rows)


def bench_dedupe(tmp: str, files: int, total: int, runs: int) -> None:
    tree = os.path.join(tmp, "tree")
    t0 = time.perf_counter()
    exp = make_dupe_tree(tree, files, total, 0.2)
    print(f"dedupe tree: {exp.files:,} files, {exp.bytes / 1e9:.2f} GB, {exp.duplicates:,} "
          f"duplicates (20%) of {exp.groups:,} originals, {exp.reclaimable / 1e6:,.0f} MB "
          f"reclaimable (made in {time.perf_counter() - t0:.1f} s); page cache warmed, "
          f"median of {runs} run{'s' * (runs > 1)} each")
    warm(tree)

    with Fabric(workers=1, root=tmp) as f:
        spans = []
        for _ in range(runs):
            (job,), span, _ = run_jobs(f, [("dedupe", [tree], {"action": "report"}, False)])
            spans.append(span)
            res = job["result"]
    print(check("       sanity, ours (job result)", exp, res["groups"], res["duplicates"],
                res["reclaimable_bytes"]))
    inproc = [dedupe_in_process(tree, tmp) for _ in range(runs)]
    procs = [dt for dt, _ in inproc]
    res = inproc[-1][1]
    print(check("       sanity, ours (in-process)", exp, res["groups"], res["duplicates"],
                res["reclaimable_bytes"]))

    theirs: dict[str, list[float]] = {}
    for name, once in (("jdupes", jdupes_once), ("rmlint", rmlint_once)):
        if shutil.which(name) is None:
            print(f"{name:6} not installed (apt-get install {name})")
            continue
        with tempfile.TemporaryDirectory() as scratch:
            runs3 = [once(tree, scratch) for _ in range(runs)]
        theirs[name] = [dt for dt, _, _ in runs3]
        _, g, d = runs3[-1]
        print(check(f"       sanity, {name}", exp, g, d))

    show("ours", "dedupe (action report) through the real system, 1 worker process, job "
         "started..finished", spans, "s", note=f"{files:,} files")
    show("ours", "dedupe in-process (the kind under a JobContext, 4 threads)", procs, "s")
    for name, dts in theirs.items():
        args = "-r -q" if name == "jdupes" else "-T df -o json:FILE"
        show(name, f"{name} {args}", dts, "s")
    if theirs:
        best = min(theirs, key=lambda k: statistics.median(theirs[k]))
        show("ratio", f"dedupe ours (job) / {best} (the faster), time",
             [statistics.median(spans) / statistics.median(theirs[best])], "x",
             target="<= 1.5", note="of the medians")
    else:
        print("ratio  n/a: neither jdupes nor rmlint is installed")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller trees, one run (a smoke run)")
    p.add_argument("--runs", type=int, default=0, help=f"repeats ({RUNS}; 1 with --quick)")
    p.add_argument("--only", choices=("rename", "rename-plan", "dedupe"), default=None,
                   help="one part: rename (plan, apply, rollback), rename-plan (the dry-run "
                   "figures only) or dedupe (default: all)")
    p.add_argument("--files", type=int, default=0,
                   help="files in the rename library (10,000; 2,000 with --quick)")
    return p


def main() -> None:
    args = parser().parse_args()
    rename_files, dupe_files, dupe_bytes = ((2_000, 4_000, 200_000_000) if args.quick
                                            else (10_000, 20_000, 2_000_000_000))
    rename_files = args.files or rename_files
    runs = args.runs or (1 if args.quick else RUNS)
    if args.only in (None, "rename", "rename-plan"):
        with tempfile.TemporaryDirectory(prefix="bench-fileops-") as tmp:
            bench_rename(os.path.realpath(tmp), rename_files, runs,
                         plan_only=args.only == "rename-plan")
    if args.only in (None, "dedupe"):
        with tempfile.TemporaryDirectory(prefix="bench-fileops-") as tmp:
            bench_dedupe(os.path.realpath(tmp), dupe_files, dupe_bytes, runs)


if __name__ == "__main__":
    main()
