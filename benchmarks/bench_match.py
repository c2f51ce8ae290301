"""Catalog matching figures (issue 11): kind ``match`` against the local MusicBrainz fake with
its latency and rate limit, beside the old tool's way (one request at a time).

    python -m benchmarks.bench_match [--tracks 1000] [--rate 20] [--latency 0.05] [--quick]

medialoom: one match job through a real broker and one worker process, concurrency 4 and
``rate_limit`` = the fake's limit, answer cache off (so every track costs a request).
sequential: the baseline written here: for each track one strict recording search, then the
next, never two in flight, each request started at least 1/rate after the one before (the
best a one-at-a-time matcher can do under the limit); the first result whose title and
artist equal the track's, case aside, is its match.  Figures: tracks/s of each and their
ratio; medialoom's sustained request rate as a share of the limit (requests over the span
from the first to the last, as the fake saw them) and the requests over the limit (the most
in any one second beyond it, and the 503s the fake answered: both 0).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import Fabric
from benchmarks.report import show
from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import build_catalog, simple_collection
from tests.fakes.rekordbox_xml import write_collection

WAIT_S = 1800.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracks", type=int, default=1000, help="tracks in the collection")
    p.add_argument("--rate", type=float, default=20.0, help="the catalog's limit, requests/s")
    p.add_argument("--latency", type=float, default=0.05, help="seconds per catalog answer")
    p.add_argument("--concurrency", type=int, default=4, help="medialoom's requests in flight")
    p.add_argument("--quick", action="store_true", help="200 tracks")
    return p


def sequential(url: str, tracks: list[dict[str, Any]], rate: float) -> tuple[int, float, int]:
    """The old tool: (tracks matched, seconds, requests made), one request at a time."""
    matched = requests = 0
    spacing = 1.0 / rate
    started = time.perf_counter()
    last = -spacing
    for t in tracks:
        wait = last + spacing - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        last = time.perf_counter()
        query = f'recording:"{t["Name"]}" AND artist:"{t["Artist"]}"'
        q = urllib.parse.urlencode({"query": query, "fmt": "json", "limit": "10"})
        with urllib.request.urlopen(f"{url}/ws/2/recording?{q}", timeout=10) as r:  # noqa: S310
            body = json.load(r)
        requests += 1
        for rec in body.get("recordings", []):
            credit = "".join(c["name"] + c.get("joinphrase", "") for c in rec["artist-credit"])
            if rec["title"].lower() == t["Name"].lower() and credit.lower() == t["Artist"].lower():
                matched += 1
                break
    return matched, time.perf_counter() - started, requests


def medialoom(fake: FakeCatalog, xml: Path, root: str, rate: float, concurrency: int
              ) -> tuple[dict[str, Any], float]:
    """One match job through a broker and a worker process: (its job map, seconds)."""
    fabric = Fabric(workers=1, slots=2, root=root).start()
    try:
        with fabric.client(timeout_s=30.0) as c:
            t0 = time.perf_counter()
            job = c.start("match", [str(xml)], {"catalog_url": fake.url, "rate_limit": rate,
                                                "concurrency": concurrency, "cache_days": 0.0})
            done = c.wait(job["id"], timeout_s=WAIT_S)
            wall = time.perf_counter() - t0
    finally:
        fabric.stop()
    if done["status"] != "completed":
        raise RuntimeError(f"the match job ended {done['status']}: {done.get('error')}")
    return done, done["finished"] - done["started"] if done.get("started") else wall


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    n = 200 if args.quick else args.tracks
    catalog = build_catalog(7)
    tracks = simple_collection(catalog, n)
    tmp = tempfile.TemporaryDirectory(prefix="bench-match-")
    root = Path(tmp.name)
    xml = write_collection(root / "collection.xml", tracks)
    with tmp, FakeCatalog(catalog.recordings, catalog.releases, latency_s=args.latency,
                     rate=args.rate) as fake:
        matched_seq, seq_s, seq_requests = sequential(fake.url, tracks, args.rate)
        seq_503 = sum(h.status == 503 for h in fake.hits)
        before = len(fake.hits)
        job, ml_s = medialoom(fake, xml, str(root), args.rate, args.concurrency)
        hits = fake.hits[before:]
        over = max(0, fake_max(hits) - int(args.rate))
        busy = sum(h.status == 503 for h in hits)
    span = max(h.at for h in hits) - min(h.at for h in hits)
    sustained = len(hits) / span if span > 0 else float("nan")
    ml_rate, seq_rate = job["result"]["matched"] / ml_s, matched_seq / seq_s
    note = f"{n} tracks, {args.latency * 1000:.0f} ms latency, limit {args.rate:g} req/s"
    show("match", "medialoom tracks/s", [ml_rate], "tracks/s",
         note=f"{job['result']['matched']}/{n} matched, {len(hits)} requests, "
              f"{job['result'].get('late_tokens', 0)} late tokens asked again; {note}")
    show("match", "sequential tracks/s", [seq_rate], "tracks/s",
         note=f"{matched_seq}/{n} matched, {seq_requests} requests, {seq_503} answered 503")
    show("match", "medialoom / sequential", [ml_rate / seq_rate], "x")
    show("match", "sustained request rate", [100 * sustained / args.rate], "% of limit",
         target=">= 90", note=f"{sustained:.2f} req/s")
    show("match", "requests over the limit", [float(over + busy)], "", target="0",
         note=f"most in one second {fake_max(hits)}, 503s {busy}")
    return 0


def fake_max(hits: list[Any]) -> int:
    """The most of these requests that arrived within any one second."""
    times = sorted(h.at for h in hits)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
