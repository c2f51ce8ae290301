"""Kind ``probe`` with the real ffprobe on videos made by ffmpeg: stream details, the job
totals, bad files (corrupt, empty, truncated with deep=true, a FIFO that hangs ffprobe), the
concurrency bound, prompt cancel; through real broker and worker processes, a FIFO timing out
while STATUS answers and the cancel of a 200-file probe keeping its partial results."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from medialoom.protocol.errors import RequestError
from medialoom.workers.errors import JobCancelled, PathForbidden
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.probe import KIND
from tests.fileops.kindrun import by_name, items, make_ctx, run_kind
from tests.support import System, log_tails, pages
from tests.video_fixtures import CORRUPT, Videos, place, videos

__all__ = ["videos", "System"]  # the session fixture, imported for pytest


def truncate(src: Path, dst: Path) -> Path:
    """dst: the first half of src (headers intact, the rest of the stream cut)."""
    data = src.read_bytes()
    dst.write_bytes(data[:len(data) // 2])
    return dst


def ffprobes_on(folder: Path) -> list[int]:
    """Pids of ffprobe processes reading a file under folder."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"ffprobe") and any(str(folder).encode() in a
                                                         for a in argv):
            pids.append(int(pid))
    return pids


# --- what it reports ------------------------------------------------------------------------


async def test_reports_container_duration_and_every_stream(tmp_path: Path,
                                                           videos: Videos) -> None:
    mkv = place(videos["eng_jpn.mkv"], tmp_path / "a.mkv")
    place(videos["eng_jpn.mp4"], tmp_path / "b.mp4")
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path])
    got = by_name(items(ctx._reporter))
    a = got["a.mkv"]
    assert a["status"] == "ok" and a["message"] == "matroska, 1.0 s, mpeg4 64x48, aac eng, aac jpn"
    d = a["details"]
    assert d["container"] == "matroska,webm" and d["size_bytes"] == mkv.stat().st_size
    assert 0.9 < d["duration_s"] < 1.2 and d["bit_rate"] > 0
    assert d["streams"] == [
        {"index": 0, "type": "video", "codec": "mpeg4", "language": "", "title": "",
         "default": False, "forced": False, "channels": None, "width": 64, "height": 48},
        {"index": 1, "type": "audio", "codec": "aac", "language": "eng", "title": "",
         "default": True, "forced": False, "channels": 1, "width": None, "height": None},
        {"index": 2, "type": "audio", "codec": "aac", "language": "jpn", "title": "",
         "default": False, "forced": False, "channels": 1, "width": None, "height": None}]
    assert got["b.mp4"]["message"].startswith("mp4, 1.0 s, mpeg4 64x48")
    assert result["files"] == result["ok"] == 2 and result["failed_count"] == 0
    assert result["codecs"] == {"video": {"mpeg4": 2}, "audio": {"aac": 4}, "subtitle": {}}
    assert result["audio_languages"] == {"eng": 2, "jpn": 2}
    assert 1.8 < result["total_duration_s"] < 2.4 and result["failed_files"] == []


async def test_bad_files_are_clear_items_and_the_fifo_times_out(tmp_path: Path,
                                                                videos: Videos) -> None:
    place(videos["eng_jpn.mkv"], tmp_path / "good.mkv")
    (tmp_path / "corrupt.mkv").write_bytes(CORRUPT)
    (tmp_path / "text.mp4").write_bytes(b"this is not a video\n" * 50)
    (tmp_path / "empty.mkv").write_bytes(b"")
    truncate(videos["eng_jpn.mkv"], tmp_path / "truncated.mkv")
    os.mkfifo(tmp_path / "pipe.mkv")  # ffprobe blocks opening it: nobody writes
    started = time.monotonic()
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], timeout_s=1.0, deep=True)
    got = by_name(items(ctx._reporter))
    assert {n: i["status"] for n, i in got.items()} == {
        "good.mkv": "ok", "corrupt.mkv": "failed", "text.mp4": "failed", "empty.mkv": "failed",
        "truncated.mkv": "corrupt", "pipe.mkv": "timeout"}
    assert got["corrupt.mkv"]["message"] == "ffprobe: Invalid data found when processing input"
    assert got["text.mp4"]["message"].startswith("ffprobe: ")
    assert got["empty.mkv"]["message"] == "empty file (0 bytes): not a video"
    assert got["truncated.mkv"]["message"].startswith("decode errors: ")
    assert got["truncated.mkv"]["details"]["errors"]
    assert got["good.mkv"]["details"]["decoded"] is True
    assert got["pipe.mkv"]["message"] == ("ffprobe did not finish in 1 s and was killed (a FIFO "
                                          "with no writer)")
    assert got["pipe.mkv"]["duration_ms"] >= 1000 and time.monotonic() - started >= 1.0
    assert result["failed_count"] == 5 and result["ok"] == 1
    assert {f["path"] for f in result["failed_files"]} == \
        {str(tmp_path / n) for n, i in got.items() if i["status"] != "ok"}
    assert not ffprobes_on(tmp_path)


async def test_a_truncated_file_passes_a_plain_probe(tmp_path: Path, videos: Videos) -> None:
    truncate(videos["eng_jpn.mkv"], tmp_path / "truncated.mkv")
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path])
    assert result["ok"] == 1  # only deep=true decodes it


async def test_concurrency_bounds_the_probes_in_flight(tmp_path: Path) -> None:
    for n in range(3):
        os.mkfifo(tmp_path / f"pipe{n}.mkv")
    took = {}
    for concurrency in (1, 3):
        started = time.monotonic()
        result, _ = await run_kind(KIND, [tmp_path], [tmp_path], job_id=f"c{concurrency}",
                                   timeout_s=1.0, concurrency=concurrency)
        took[concurrency] = time.monotonic() - started
        assert result["timeout"] == 3
    assert took[1] >= 3.0  # one after the other
    assert took[3] < took[1] - 1.0, took  # side by side


async def test_cancel_is_prompt_even_while_every_probe_hangs(tmp_path: Path) -> None:
    for n in range(4):
        os.mkfifo(tmp_path / f"pipe{n}.mkv")
    ctx = make_ctx(KIND, [tmp_path], [tmp_path], timeout_s=60.0, concurrency=2)

    async def cancel_soon() -> None:
        await asyncio.sleep(1.0)
        ctx.request_cancel()

    started = time.monotonic()
    async with asyncio.TaskGroup() as group:
        group.create_task(cancel_soon())
        with pytest.raises(JobCancelled):
            await ctx.run_kind(KIND.run)
    assert time.monotonic() - started < 10  # not the 60 s timeout
    await asyncio.sleep(0.5)
    assert not ffprobes_on(tmp_path)


async def test_paths_outside_the_roots_are_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    ctx = make_ctx(KIND, [tmp_path / "outside"], [tmp_path / "root"])
    with pytest.raises(PathForbidden):
        await KIND.run(ctx)
    assert ctx._reporter.items == []


@pytest.mark.parametrize(("params", "field"), [
    ({"timeout_s": 0}, "params.timeout_s"), ({"concurrency": -1}, "params.concurrency"),
    ({"deep": "yes"}, "params.deep"), ({"extensions": ["*.mkv"]}, "params.extensions"),
])
def test_bad_parameters_are_refused_by_the_spec(params: dict, field: str) -> None:
    with pytest.raises(RequestError) as info:
        validate_params(KIND, params, ["/lib"])
    assert info.value.code == "job.bad_params" and info.value.details == {"field": field}


# --- real processes -------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_fifo_times_out_while_status_answers_and_the_job_completes(
        system: System, videos: Videos) -> None:
    lib = system.root / "movies"
    place(videos["eng_jpn.mkv"], lib / "a.mkv")
    place(videos["eng_jpn.mp4"], lib / "b.mp4")
    (lib / "corrupt.mkv").write_bytes(CORRUPT)
    os.mkfifo(lib / "stuck.mkv")
    with system.client() as c:
        job = c.start("probe", [str(lib)], {"timeout_s": 2.0})
        answered, slowest = 0, 0.0
        while True:
            asked = time.monotonic()
            seen = c.status(job["id"])
            slowest = max(slowest, time.monotonic() - asked)
            if seen["status"] not in ("queued", "running"):
                break
            answered += seen["status"] == "running"
            time.sleep(0.05)
        assert seen["status"] == "completed", f"{seen}\n{log_tails(system)}"
        got = by_name(pages(c, "results", job["id"])[0])
    assert answered >= 5 and slowest < 2.0, (answered, slowest)  # STATUS answered throughout
    assert got["stuck.mkv"]["status"] == "timeout"
    assert 2000 <= got["stuck.mkv"]["duration_ms"] < 15000  # about timeout_s
    assert (got["a.mkv"]["status"], got["b.mp4"]["status"], got["corrupt.mkv"]["status"]) == \
        ("ok", "ok", "failed")
    assert seen["result"]["failed_count"] == 2 and seen["result"]["ok"] == 2


@pytest.mark.e2e
def test_cancel_of_a_200_file_probe_stops_promptly_and_keeps_partial_results(
        system: System, videos: Videos) -> None:
    lib = system.root / "big"
    for n in range(200):
        place(videos["eng_jpn.mkv"], lib / f"f{n:03}.mkv")
    with system.client() as c:
        job = c.start("probe", [str(lib)], {})
        while (seen := c.status(job["id"]))["progress"]["processed"] < 10:
            assert seen["status"] in ("queued", "running"), seen
            time.sleep(0.02)
        asked = time.monotonic()
        c.cancel(job["id"])
        while (seen := c.status(job["id"]))["status"] == "running":
            time.sleep(0.02)
        took = time.monotonic() - asked
        rows = pages(c, "results", job["id"])[0]
    assert seen["status"] == "cancelled", f"{seen}\n{log_tails(system)}"
    assert took < 3.0, f"cancel took {took:.1f} s"
    processed = seen["progress"]["processed"]
    assert 10 <= processed < 200 and len(rows) == processed
    assert {r["status"] for r in rows} == {"ok"}
    time.sleep(0.5)
    assert not ffprobes_on(lib)
