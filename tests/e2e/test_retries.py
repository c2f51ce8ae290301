"""Retries users expect (issue 8, item 4), with a real broker, workers and the CLI.

A transient failure (JobFailed retry=True) and an unexpected exception are retried by the
broker with backoff while attempts remain; ``medialoom retry JOB`` starts a new job over
only the failed items of a finished job, linked to it by ``retry_of``.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli import cli
from tests.e2e.test_fabric import write_wav
from tests.support import System

pytestmark = pytest.mark.e2e


def test_a_transient_failure_on_attempt_1_completes_on_attempt_2(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"steps": 2, "fail_attempts": 1})
        done = c.wait(job["id"], timeout_s=30)
    assert done["status"] == "completed" and done["attempts"] == 2, done
    assert done["error"] is None and done["progress"]["succeeded"] == 2


def test_an_unexpected_exception_retries_with_backoff_up_to_max_attempts(
        system: System) -> None:
    with system.client() as c:
        once = c.start("sleep", params={"steps": 1, "crash_attempts": 1})
        always = c.start("sleep", params={"steps": 1, "crash_attempts": 5}, max_attempts=2)
        recovered = c.wait(once["id"], timeout_s=30)
        gave_up = c.wait(always["id"], timeout_s=30)
    assert recovered["status"] == "completed" and recovered["attempts"] == 2
    assert gave_up["status"] == "failed" and gave_up["attempts"] == 2
    assert gave_up["error"]["code"] == "internal"
    assert "RuntimeError: crash on attempt 2" in gave_up["error"]["message"]


def test_a_kinds_own_verdict_never_retries(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"fail": True})
        done = c.wait(job["id"], timeout_s=30)
    assert done["status"] == "failed" and done["attempts"] == 1


def library_with_three_corrupt_files(system: System) -> tuple[str, list[str]]:
    """Five readable WAVs and three files mutagen cannot parse (unreadable even to root)."""
    music = system.root / "music"
    for i in range(5):
        write_wav(music / f"ok{i}.wav")
    corrupt = []
    for name in ("a.mp3", "b.flac", "sub/c.ogg"):
        path = music / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00not audio" * 64)
        corrupt.append(str(path))
    return str(music), sorted(corrupt)


def test_cli_retry_reruns_exactly_the_failed_items(system: System) -> None:
    music, corrupt = library_with_three_corrupt_files(system)
    with system.client() as c:
        first = c.start("scan", [music], {"pattern": "*"})
        first = c.wait(first["id"], timeout_s=60)
    assert first["status"] == "completed" and first["progress"]["failed"] == 3, first
    out = cli(system, "retry", first["id"][-8:], "--json")
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert job["retry_of"] == first["id"] and job["kind"] == "scan"
    assert sorted(job["paths"]) == corrupt and job["params"] == first["params"]
    with system.client() as c:
        done = c.wait(job["id"], timeout_s=60)
        items = c.results(job["id"])["items"]
    assert done["progress"]["processed"] == 3 and done["progress"]["failed"] == 3, done
    assert sorted(i["path"] for i in items) == corrupt
    assert done["retry_of"] == first["id"]
    shown = json.loads(cli(system, "status", job["id"], "--json").stdout)
    assert shown["retry_of"] == first["id"]
    # a retry is itself a finished job with failed items: it can be retried again
    again = cli(system, "retry", job["id"], "--watch", "--json")
    assert again.returncode == 0, again.stderr  # completed (with 3 failed items)
    last = json.loads(again.stdout.strip().splitlines()[-1])
    assert last["retry_of"] == job["id"]


def test_cli_retry_of_a_job_without_failed_items_exits_2(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"steps": 2})
        c.wait(job["id"], timeout_s=30)
        before = c.list()["total"]
        out = cli(system, "retry", job["id"])
        assert out.returncode == 2
        assert "job.nothing_to_retry" in out.stderr
        assert c.list()["total"] == before
