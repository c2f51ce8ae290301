"""Kind ``rollback`` in-process: what it restores, what it cannot and why, folders it removes,
dry runs, repeated and retried rollbacks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medialoom.workers.context import CollectingReporter
from medialoom.workers.errors import JobCancelled, JobFailed
from medialoom.workers.kinds.organize import KIND as ORGANIZE
from medialoom.workers.kinds.rename import KIND as RENAME
from medialoom.workers.kinds.rollback import KIND
from tests.fileops.kindrun import by_name, items, make_ctx, plan, run_kind, tree, write_track


async def renamed_library(root: Path, n: int = 6) -> tuple[CollectingReporter, dict[str, str]]:
    for k in range(n):
        write_track(root / f"{k}.mp3", {"artist": "A", "title": f"T{k}"})
    original = tree(root)
    reporter = CollectingReporter()
    await run_kind(RENAME, [root], [root], reporter=reporter)
    return reporter, original


async def test_reports_what_it_cannot_restore_and_why(tmp_path: Path) -> None:
    reporter, original = await renamed_library(tmp_path)
    edited = tmp_path / "A - T1.mp3"
    edited.write_bytes(edited.read_bytes() + b"edited")  # edited after the job
    (tmp_path / "A - T2.mp3").unlink()  # deleted after the job
    (tmp_path / "3.mp3").write_bytes(b"a new file took the old name")
    result, _ = await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    got = {os.path.basename(i["details"]["new"]): i for i in items(reporter, "rb")}
    assert got["1.mp3"]["status"] == "conflict"
    assert "not the file this operation puts there (size" in got["1.mp3"]["message"]
    assert got["2.mp3"]["status"] == "conflict" and "gone" in got["2.mp3"]["message"]
    assert got["3.mp3"]["status"] == "conflict" and "both" in got["3.mp3"]["message"]
    assert {got[f"{k}.mp3"]["status"] for k in (0, 4, 5)} == {"restored"}
    assert result["restored"] == 3 and result["conflict"] == 3
    now = tree(tmp_path)
    for k in (0, 4, 5):
        assert now[f"{k}.mp3"] == original[f"{k}.mp3"]
    assert "A - T1.mp3" in now and "A - T3.mp3" in now


async def test_undo_runs_in_reverse_order(tmp_path: Path) -> None:
    reporter, _ = await renamed_library(tmp_path, 4)
    await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    undone = [row["details"]["undoes"] for row in plan(reporter, "rb")]
    assert undone == [3, 2, 1, 0]


async def test_a_second_rollback_finds_everything_already_restored(tmp_path: Path) -> None:
    reporter, original = await renamed_library(tmp_path)
    await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    result, _ = await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb2", job="j1")
    assert result == {"job": "j1", "operations": 6, "unchanged": 6}
    assert tree(tmp_path) == original


async def test_dry_run_rollback_changes_nothing(tmp_path: Path) -> None:
    reporter, _ = await renamed_library(tmp_path)
    before = tree(tmp_path)
    result, _ = await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1",
                               dry_run=True)
    assert tree(tmp_path) == before and result["planned"] == 6


async def test_rollback_of_a_dry_run_job_has_nothing_to_undo(tmp_path: Path) -> None:
    write_track(tmp_path / "a.mp3", {"artist": "A", "title": "T"})
    reporter = CollectingReporter()
    await run_kind(RENAME, [tmp_path], [tmp_path], reporter=reporter, dry_run=True)
    result, _ = await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    assert result == {"job": "j1", "operations": 0}


async def test_a_created_folder_that_is_no_longer_empty_is_kept(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.pdf").write_bytes(b"a")
    reporter = CollectingReporter()
    await run_kind(ORGANIZE, [tmp_path / "in"], [tmp_path], reporter=reporter, dest="out",
                   template="{category}")
    (tmp_path / "out" / "documents" / "mine.txt").write_bytes(b"added by the user")
    result, _ = await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    got = {i["path"]: i for i in items(reporter, "rb")}
    kept = got[str(tmp_path / "out" / "documents")]
    assert kept["status"] == "skipped" and kept["message"] == "folder not empty: kept"
    assert (tmp_path / "in" / "a.pdf").read_bytes() == b"a"
    assert (tmp_path / "out" / "documents" / "mine.txt").exists()


async def test_a_killed_rollback_is_retried_to_completion(tmp_path: Path) -> None:
    reporter, original = await renamed_library(tmp_path, 80)
    ctx = make_ctx(KIND, [], [tmp_path], reporter=reporter, job_id="rb", job="j1", survive=20)
    with pytest.raises(JobCancelled):
        await KIND.run(ctx)
    ctx.flush_items()
    assert ctx.lost
    result, _ = await run_kind(KIND, [], [tmp_path], reporter=reporter, job_id="rb", attempt=2,
                               has_plan=True, job="j1")
    assert result["restored"] == 80 and tree(tmp_path) == original
    assert sum(1 for i in items(reporter, "rb") if i["message"] == "already done") >= \
        len(ctx.lost)


@pytest.mark.parametrize("job", ["", "rb", "no-such-job"])
async def test_refuses_a_job_it_cannot_undo(tmp_path: Path, job: str) -> None:
    ctx = make_ctx(KIND, [], [tmp_path], job_id="rb", job=job)
    with pytest.raises(JobFailed) as info:
        await KIND.run(ctx)
    assert info.value.code == "job.bad_params"


async def test_restores_only_inside_the_library_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    reporter, _ = await renamed_library(root, 2)
    result, _ = await run_kind(KIND, [], [tmp_path / "elsewhere"], reporter=reporter,
                               job_id="rb", job="j1")
    got = by_name(items(reporter, "rb"))
    assert result["conflict"] == 2
    assert all("outside the library roots" in i["message"] for i in got.values())
    assert sorted(p.name for p in root.iterdir()) == ["A - T0.mp3", "A - T1.mp3"]
