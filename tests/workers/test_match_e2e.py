"""Kind ``match`` through a real broker and real worker processes, against the fake catalog.

The rate limit is one budget for the broker: two worker processes matching
a 200-track collection each at the same time never make the catalog see
more than ``rate_limit`` requests in any second (and it answers none 503).
A cancel keeps the matched results; ``medialoom results --status ambiguous``
shows the candidates.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import Catalog, simple_collection
from tests.fakes.rekordbox_xml import write_collection
from tests.support import System, make_system

pytestmark = pytest.mark.e2e
RATE = 20


@pytest.fixture
def two_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    """A broker and two worker processes (one job slot each), with their own data dir."""
    monkeypatch.setenv("MEDIALOOM_DATA_DIR", str(tmp_path / "worker-data"))
    monkeypatch.setenv("MEDIALOOM_CONTACT", "tests@medialoom.invalid")
    s = make_system(tmp_path)
    s.start_broker()
    s.start_worker(slots=1)
    s.start_worker(slots=1)
    yield s
    s.stop()


def all_items(system: System, job_id: str) -> list[dict]:
    out: list[dict] = []
    with system.client() as c:
        while True:
            page = c.results(job_id, [], 1000, len(out))
            out += page["items"]
            if not page["items"] or len(out) >= page["total"]:
                return out


def test_two_workers_share_one_rate_budget(two_workers: System, catalog: Catalog,
                                           fake: FakeCatalog) -> None:
    fake.state.latency_s = 0.02
    fake.state.rate = RATE  # above it the fake answers 503, as MusicBrainz does
    xmls = [write_collection(two_workers.root / f"set{n}.xml",
                             simple_collection(catalog, 200, seed=n, prefix=f"s{n}-"))
            for n in (1, 2)]
    params = {"catalog_url": fake.url, "rate_limit": float(RATE), "concurrency": 4,
              "cache_days": 0.0}
    with two_workers.client() as c:
        jobs = [c.start("match", [str(x)], params) for x in xmls]
        done = [c.wait(job["id"], timeout_s=120) for job in jobs]
    assert [j["status"] for j in done] == ["completed", "completed"], done
    statuses = Counter(h.status for h in fake.hits)
    assert statuses[503] == 0, statuses
    assert fake.max_in_any_second() <= RATE
    assert len(fake.hits) >= 400
    for job in done:
        assert job["result"]["matched"] == 200 and job["result"]["requests"] >= 200
    span = max(h.at for h in fake.hits) - min(h.at for h in fake.hits)
    # not starved by the budget (how close it runs to the limit is benchmarks/bench_match.py's)
    assert len(fake.hits) / span >= 0.3 * RATE
    # the User-Agent names the contact from the worker's settings (MEDIALOOM_CONTACT)
    assert {h.agent.split(" ", 1)[1] for h in fake.hits} == {"( tests@medialoom.invalid )"}


def test_cancel_mid_job_keeps_the_matched_results(two_workers: System, catalog: Catalog,
                                                  fake: FakeCatalog) -> None:
    fake.state.latency_s = 0.1
    xml = write_collection(two_workers.root / "big.xml", simple_collection(catalog, 150))
    with two_workers.client() as c:
        job = c.start("match", [str(xml)], {"catalog_url": fake.url, "rate_limit": 10.0,
                                            "cache_days": 0.0})
        two_workers.wait_for(lambda: c.status(job["id"])["progress"]["processed"] >= 10,
                             "ten tracks matched")
        c.cancel(job["id"])
        end = c.wait(job["id"], timeout_s=30)
    assert end["status"] == "cancelled"
    rows = all_items(two_workers, job["id"])
    assert 10 <= len(rows) < 150
    assert all(r["status"] == "matched" and r["details"]["recording_id"] for r in rows)
    asked = len(fake.hits)
    time.sleep(1.0)
    assert len(fake.hits) <= asked + 4, "the cancelled job went on asking the catalog"


def cli(system: System, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "medialoom.clients.cli_main", *args,
            "--endpoint", system.clients, "--events", system.events_out]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "80"})


def test_results_status_ambiguous_shows_the_candidates(two_workers: System, catalog: Catalog,
                                                       fake: FakeCatalog) -> None:
    song = next(s for s in catalog.songs if s.original and len(s.remixes) >= 2)
    xml = write_collection(two_workers.root / "c.xml", [
        {"TrackID": "1", "Name": song.title, "Artist": song.join.join(song.artists)}])
    with two_workers.client() as c:
        # a margin no runner-up can leave: the original and its remixes stay "close"
        job = c.start("match", [str(xml)], {"catalog_url": fake.url, "rate_limit": 50.0,
                                            "margin": 0.9})
        assert c.wait(job["id"], timeout_s=60)["status"] == "completed"
    out = cli(two_workers, "results", job["id"], "--status", "ambiguous")
    assert out.returncode == 0, out.stderr
    flat = " ".join(out.stdout.split())
    assert "ambiguous" in flat
    assert f"? 1.00 {song.join.join(song.artists)} - {song.title}" in flat
    for remixer in song.remixes:
        assert remixer.split()[0] in flat


def test_a_rerun_on_the_workers_is_served_from_their_cache(two_workers: System,
                                                          catalog: Catalog,
                                                          fake: FakeCatalog) -> None:
    xml = write_collection(two_workers.root / "again.xml", simple_collection(catalog, 20))
    params = {"catalog_url": fake.url, "rate_limit": 50.0}
    with two_workers.client() as c:
        first = c.wait(c.start("match", [str(xml)], params)["id"], timeout_s=60)
        asked = len(fake.hits)
        second = c.wait(c.start("match", [str(xml)], params)["id"], timeout_s=60)
    assert first["result"]["requests"] == asked == 20 and first["result"]["matched"] == 20
    assert second["status"] == "completed" and second["result"]["matched"] == 20
    assert len(fake.hits) == asked and second["result"]["requests"] == 0
    assert second["result"]["cached"] == 20
    assert (two_workers.data_dir.parent / "worker-data" / "catalog-cache.sqlite3").exists()
