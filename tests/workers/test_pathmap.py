"""Path mappings of workers on other hosts (workers/pathmap.py, SPEC.md section 6.9): the
mapping both ways, the READY checks, and reachability as the broker's dispatch uses it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.workers.pathmap import PathMap, check_announced, parse_entry, reaches
from tests.fileops.kindrun import write_track
from tests.support import System, free_ports, log_tails, make_system, pages


def test_an_entry_splits_at_the_first_equals_slash() -> None:
    assert parse_entry("/srv/media=/mnt/media") == ("/srv/media", "/mnt/media")
    assert parse_entry("/srv/a=b=/mnt/x") == ("/srv/a=b", "/mnt/x")
    for bad in ("/srv/media", "srv=mnt", "=/mnt", "/srv/media=mnt/media"):
        with pytest.raises(ValueError, match="LIBRARY_PREFIX=LOCAL_PREFIX|absolute"):
            PathMap([bad], resolve=False)


def test_prefixes_are_normalised_and_checked() -> None:
    pm = PathMap(["/srv/media/=/mnt//media"], resolve=False)
    assert pm.announce() == [["/srv/media", "/mnt/media"]]
    with pytest.raises(ValueError, match="may not be /"):
        PathMap(["/=/mnt/media"], resolve=False)
    with pytest.raises(ValueError, match="more than once"):
        PathMap(["/srv/a=/mnt/a", "/srv/a/=/mnt/b"], resolve=False)
    with pytest.raises(ValueError, match="pair"):
        PathMap([["/srv/a"]], resolve=False)


def test_paths_map_both_ways_at_any_depth_and_inside_texts() -> None:
    pm = PathMap(["/srv/media=/mnt/media", "/srv/media/tv=/nas2/tv"], resolve=False)
    inbound = {"paths": ["/srv/media/a.mp3", "/srv/media/tv/s01/e1.mkv", "/srv/mediax/b"],
               "params": {"dest": "/srv/media/Sorted", "template": "{artist}/{title}",
                          "list": ["/srv/media"]}}
    assert pm.to_local(inbound) == {
        "paths": ["/mnt/media/a.mp3", "/nas2/tv/s01/e1.mkv", "/srv/mediax/b"],
        "params": {"dest": "/mnt/media/Sorted", "template": "{artist}/{title}",
                   "list": ["/mnt/media"]}}
    item = {"i": 3, "path": "/nas2/tv/e1.mkv", "status": "conflict",
            "message": "/mnt/media/a.mp3 changed since it was planned (size 1 -> 2)",
            "details": {"old": "/mnt/media/a.mp3", "new": "/mnt/media/b.mp3",
                        "created_dirs": ["/mnt/media/x", "/mnt/media/x/y"], "n": 5}}
    assert pm.to_library(item) == {
        "i": 3, "path": "/srv/media/tv/e1.mkv", "status": "conflict",
        "message": "/srv/media/a.mp3 changed since it was planned (size 1 -> 2)",
        "details": {"old": "/srv/media/a.mp3", "new": "/srv/media/b.mp3",
                    "created_dirs": ["/srv/media/x", "/srv/media/x/y"], "n": 5}}
    # a prefix inside a word, or followed by more name, is not a path under it
    assert pm.to_library("a/mnt/media/x /mnt/mediax /mnt/media.bak") == \
        "a/mnt/media/x /mnt/mediax /mnt/media.bak"


def test_an_empty_map_returns_values_as_they_are() -> None:
    pm = PathMap()
    value = {"path": "/srv/media/a", "expect": {"dev": 1}}
    assert not pm and pm.to_local(value) is value and pm.to_library(value) is value
    assert pm.unreachable(["/anything"]) is None


def test_device_numbers_are_left_out_of_expect_maps_both_ways() -> None:
    pm = PathMap(["/srv/m=/mnt/m"], resolve=False)
    row = {"src": "/mnt/m/a", "expect": {"size": 3, "mtime_ns": 9, "ino": 7, "dev": 2049},
           "details": {"keep_expect": {"size": 3, "dev": 1}, "dev": "kept elsewhere"}}
    out = pm.to_library(row)
    assert out["expect"] == {"size": 3, "mtime_ns": 9, "ino": 7}
    assert out["details"] == {"keep_expect": {"size": 3}, "dev": "kept elsewhere"}
    assert "dev" not in pm.to_local({"expect": {"dev": 5, "size": 1}})["expect"]


def test_a_symlinked_local_prefix_is_known_by_its_real_path_too(tmp_path: Path) -> None:
    real = tmp_path / "share"
    real.mkdir()
    link = tmp_path / "mnt"
    link.symlink_to(real)
    pm = PathMap([f"/srv/media={link}"])
    assert pm.to_local("/srv/media/a.mp3") == f"{link}/a.mp3"
    assert pm.to_library(f"{real}/a.mp3") == pm.to_library(f"{link}/a.mp3") == "/srv/media/a.mp3"


def test_roots_as_the_worker_sees_them() -> None:
    pm = PathMap(["/srv/media=/mnt/media", "/srv/tv=/nas/tv"], resolve=False)
    assert pm.local_roots(["/srv/media"]) == ["/mnt/media"]
    assert pm.local_roots(["/srv/media/music"]) == ["/mnt/media/music"]
    assert pm.local_roots(["/srv"]) == ["/mnt/media", "/nas/tv"]
    assert pm.local_roots(["/elsewhere"]) == ["/elsewhere"]


def test_local_prefixes_must_be_folders_here(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    PathMap([f"/srv/a={tmp_path}"]).check_local()
    with pytest.raises(ValueError, match="does not exist on this host"):
        PathMap([f"/srv/a={tmp_path}/gone"]).check_local()
    with pytest.raises(ValueError, match="is not a folder"):
        PathMap([f"/srv/a={tmp_path}/file"]).check_local()


def test_the_broker_checks_announced_pairs() -> None:
    assert check_announced([["/srv/media", "/mnt/m"]], ["/srv/media"]) == \
        (("/srv/media", "/mnt/m"),)
    assert check_announced([["/srv", "/mnt/m"], ["/srv/media/x", "/mnt/x"]], ["/srv/media"])
    assert check_announced([], ["/srv/media"]) == ()
    for bad, why in (([["/srv/media"]], "pair"), ([["/srv/media", 3]], "pair"),
                     ([["srv", "/mnt"]], "absolute"), ([["/srv/media/", "/mnt"]], "normalised"),
                     ([["/", "/mnt"]], "may not be /"),
                     ([["/srv/media", "/a"], ["/srv/media", "/b"]], "more than once"),
                     ([["/other", "/mnt"]], "not inside a library root"), ("x", "array")):
        with pytest.raises(ValueError, match=why):
            check_announced(bad, ["/srv/media"])


def test_a_worker_without_pairs_reaches_every_path() -> None:
    pairs = (("/srv/media", "/mnt/media"),)
    assert reaches((), ["/anything/at/all"])
    assert reaches(pairs, ["/srv/media", "/srv/media/a/b.mp3"])
    assert not reaches(pairs, ["/srv/media/a.mp3", "/srv/other/b.mp3"])
    assert not reaches(pairs, ["/srv/mediax"])
    assert PathMap(["/srv/media=/mnt/media"], resolve=False).unreachable(
        ["/srv/media/a", "/srv/tv/b"]) == "/srv/tv/b"


def test_a_whole_items_batch_maps_back() -> None:
    pm = PathMap(["/srv/media=/mnt/media"], resolve=False)
    rows = [{"i": i, "path": f"/mnt/media/a/{i}.mp3", "status": "renamed", "message": "",
             "details": {"old": f"/mnt/media/a/{i}.mp3", "new": f"/mnt/media/b/{i}.mp3"}}
            for i in range(256)]
    out = pm.to_library(rows)
    assert out[255]["details"]["new"] == "/srv/media/b/255.mp3"
    assert os.path.commonpath([r["path"] for r in out]) == "/srv/media/a"


# --- real broker and worker processes --------------------------------------------------------


def start_mapped_worker(system: System, *pairs: str, kinds: tuple[str, ...] = (),
                        wait: bool = True) -> subprocess.Popen[bytes]:
    """One worker process with --path-map pairs; waits until the broker counts it."""
    before = system.worker_count() if wait else 0
    argv = [sys.executable, "-m", "medialoom.workers.worker", "--workers", system.workers,
            "--events", system.events_in, "--slots", "2", "--heartbeat", str(system.heartbeat)]
    for pair in pairs:
        argv += ["--path-map", pair]
    for kind in kinds:
        argv += ["--kind", kind]
    proc = system._popen(argv, "workers")
    system.worker_procs.append(proc)
    if wait:
        system.wait_for(lambda: system.worker_count() > before, "mapped worker registered")
    return proc


def tagged_tracks(folder: Path, count: int) -> list[str]:
    """count MP3 files with distinct artist/title tags; their names after a default rename."""
    for i in range(count):
        write_track(folder / f"{i:03d}.mp3", {"artist": "Band", "title": f"Song {i:03d}"}, 1.0)
    return [f"Band - Song {i:03d}.mp3" for i in range(count)]


@pytest.mark.e2e
def test_a_mapped_worker_works_in_its_view_and_reports_library_paths(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    library, view = system.root / "music", tmp_path / "hostb" / "music"
    expected = tagged_tracks(library, 12)
    # the worker's host holds the same files under another prefix (a copy stands in for
    # shared storage here, so what the worker touches is told apart from the library)
    shutil.copytree(library, view)
    system.start_broker()
    try:
        start_mapped_worker(system, f"{system.root}={tmp_path / 'hostb'}",
                            kinds=("rename", "rollback"))
        with system.client() as c:
            job = c.wait(c.start("rename", [str(library)])["id"], timeout_s=60)
            assert job["status"] == "completed", job
            plan, _ = pages(c, "plan", job["id"])
            items, _ = pages(c, "results", job["id"])
            stats = c.stats()
            assert sorted(p.name for p in view.iterdir()) == expected
            # the rollback reads the stored plan (library paths) and undoes it in the view
            undo = c.wait(c.start("rollback", [], {"job": job["id"]})["id"], timeout_s=60)
            assert undo["status"] == "completed", undo
            undone, _ = pages(c, "results", undo["id"])
        assert sorted(p.name for p in view.iterdir()) == [f"{i:03d}.mp3" for i in range(12)]
        assert {item["status"] for item in undone} == {"restored"}, undone[:3]
        assert all(item["path"].startswith(f"{library}/") for item in undone)
        assert sorted(p.name for p in library.iterdir()) == [f"{i:03d}.mp3" for i in range(12)]
        assert {op["src"] for op in plan} == {str(library / f"{i:03d}.mp3") for i in range(12)}
        assert {op["dst"] for op in plan} == {str(library / name) for name in expected}
        assert all(item["path"].startswith(f"{library}/") for item in items)
        seen = json.dumps([plan, items, job, undone, undo])
        assert str(tmp_path / "hostb") not in seen
        assert all("dev" not in op["expect"] for op in plan)
        (worker,) = stats["workers"]
        assert worker["path_map"] == [[str(system.root), str(tmp_path / "hostb")]]
    finally:
        assert all(code == 0 for code in system.stop().values()), log_tails(system)


@pytest.mark.e2e
def test_a_job_no_worker_reaches_waits_and_runs_once_one_does(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    (system.root / "music").mkdir()
    (system.root / "video").mkdir()
    (tmp_path / "mnt-music").mkdir()
    system.start_broker()
    try:
        start_mapped_worker(system, f"{system.root}/music={tmp_path}/mnt-music")
        with system.client() as c:
            job_id = c.start("scan", [str(system.root / "video")])["id"]
            system.wait_for(lambda: c.status(job_id)["waiting"], "the job's waiting note")
            job = c.status(job_id)
            assert job["status"] == "queued"
            assert job["waiting"].startswith(f"no connected worker can reach {system.root}/video")
            assert c.stats()["waiting"] == 1
        status = cli("status", job_id[-8:], system=system)
        assert "waiting" in status.stdout and f"{system.root}/video" in status.stdout
        listed = json.loads(cli("workers", "--json", system=system).stdout)
        assert [w["path_map"] for w in listed["workers"]] == \
            [[[f"{system.root}/music", f"{tmp_path}/mnt-music"]]]
        assert listed["waiting"] == 1
        table = cli("workers", system=system, columns=300).stdout
        assert f"{system.root}/music -> {tmp_path}/mnt-music" in table, table
        assert "1 queued job no worker can reach" in table
        system.start_worker()  # sees library paths as they are: reaches everything
        with system.client() as c:
            done = c.wait(job_id, timeout_s=30)
            assert done["status"] == "completed" and done["waiting"] == ""
            assert c.stats()["waiting"] == 0
    finally:
        assert all(code == 0 for code in system.stop().values()), log_tails(system)


@pytest.mark.e2e
def test_a_path_map_the_broker_refuses_stops_the_worker_and_its_pool(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    (tmp_path / "mnt").mkdir()
    system.start_broker()
    try:
        proc = start_mapped_worker(system, f"/not/a/root={tmp_path}/mnt", wait=False)
        assert proc.wait(timeout=30) == 2
        system.worker_procs.remove(proc)
        log = system.read_log("workers")
        assert "refused by the broker: worker.bad_path_map" in log, log
        assert "/not/a/root is not inside a library root" in log
        pool = subprocess.run(
            [sys.executable, "-m", "medialoom.workers", "-n", "2", "--workers", system.workers,
             "--events-in", system.events_in, "--path-map", f"/not/a/root={tmp_path}/mnt"],
            capture_output=True, text=True, timeout=60)
        assert pool.returncode == 2, pool.stderr
        assert "stopping the pool" in pool.stderr
        with system.client() as c:
            stats = c.stats()
        assert stats["workers"] == [] and stats["broker"]["refused"] >= 3
    finally:
        assert all(code == 0 for code in system.stop().values()), log_tails(system)


@pytest.mark.e2e
@pytest.mark.parametrize("entry", ["medialoom.workers", "medialoom.workers.worker"])
def test_a_mapping_onto_a_folder_this_host_lacks_is_refused_at_start(tmp_path: Path,
                                                                     entry: str) -> None:
    env = {**os.environ, "MEDIALOOM_PATH_MAP": f"/srv/media={tmp_path}/nowhere",
           "MEDIALOOM_WORKERS": "tcp://127.0.0.1:9", "MEDIALOOM_CONFIG": str(tmp_path / "none")}
    run = subprocess.run([sys.executable, "-m", entry], capture_output=True, text=True,
                         env=env, timeout=60)
    assert run.returncode == 2
    assert f"path_map /srv/media={tmp_path}/nowhere: {tmp_path}/nowhere does not exist on " \
           "this host" in run.stderr


def cli(*args: str, system: System, columns: int = 100) -> subprocess.CompletedProcess[str]:
    """``medialoom ARGS`` against system's broker; exit 0 asserted."""
    env = {**os.environ, "COLUMNS": str(columns), "MEDIALOOM_CLIENTS": system.clients,
           "MEDIALOOM_EVENTS_OUT": system.events_out}
    run = subprocess.run([sys.executable, "-m", "medialoom.clients.cli_main", *args],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return run


@pytest.mark.e2e
def test_a_dispatch_the_worker_cannot_map_fails_with_path_unreachable(
        tmp_path: Path, zctx: zmq.Context) -> None:
    """A broker that does not check reachability (a raw ROUTER here) sends a path outside the
    worker's mappings: FAILED path.unreachable with retry (SPEC 6.9), and no ACCEPT after it
    (an attempt that ends at once answers with its final message alone, SPEC 6.1)."""
    workers, events = (f"tcp://127.0.0.1:{p}" for p in free_ports(2))
    router = zctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(workers)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "medialoom.workers.worker", "--workers", workers, "--events",
             events, "--path-map", f"/srv/media={tmp_path}"],
            env={**os.environ, "MEDIALOOM_CONFIG": str(tmp_path / "none.toml")},
            stdout=out, stderr=subprocess.STDOUT)
    try:
        assert router.poll(20_000), "no READY"
        peer, *frames = router.recv_multipart()
        ready = codec.decode(frames, "worker")
        assert isinstance(ready, m.Ready) and ready.path_map == [["/srv/media", str(tmp_path)]]
        dispatch = m.Dispatch(job="01JDC3ZPQV7WE2N6VYBN0CG6KF", attempt=1, kind="scan",
                              paths=["/srv/tv/a.mkv"], roots=["/srv"])
        router.send_multipart([peer, *codec.encode(dispatch, "broker")])
        seen: list[m.WorkerMessage] = []
        deadline = time.monotonic() + 20
        while not any(isinstance(x, m.Failed) for x in seen) and time.monotonic() < deadline:
            if router.poll(200):
                seen.append(codec.decode(router.recv_multipart()[1:], "worker"))
        failed = next(x for x in seen if isinstance(x, m.Failed))
        assert failed.job == dispatch.job
        quiet = time.monotonic() + 1  # an ACCEPT owed would come 0.05 s after the DISPATCH
        while time.monotonic() < quiet:
            if router.poll(100):
                seen.append(codec.decode(router.recv_multipart()[1:], "worker"))
        accepts = [i for i, x in enumerate(seen) if isinstance(x, m.Accept)]
        assert all(i < seen.index(failed) for i in accepts), seen
        assert failed.code == "path.unreachable" and failed.retry is True
        assert failed.message.startswith("this worker cannot reach /srv/tv/a.mkv")
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0, log.read_text()
        router.close(linger=0)


def test_path_map_from_the_settings_file_the_environment_and_flags(tmp_path: Path) -> None:
    from medialoom import settings
    from medialoom.workers.config import worker_config, worker_settings
    toml = tmp_path / "config.toml"
    toml.write_text('path_map = ["/srv/media=/mnt/media", "/srv/tv=/nas/tv"]\n')
    from_file = worker_config(settings.load(str(toml), environ={}))
    assert from_file.path_map == ("/srv/media=/mnt/media", "/srv/tv=/nas/tv")
    env = settings.to_environ(worker_settings(from_file))
    assert env["MEDIALOOM_PATH_MAP"] == "/srv/media=/mnt/media:/srv/tv=/nas/tv"
    assert worker_config(settings.load(str(tmp_path / "none"), environ=env)).path_map == \
        from_file.path_map  # what the pool hands its worker processes
    odd = settings.to_environ({"path_map": ["/srv/a:b=/mnt/a:b"]})
    assert settings.load(str(tmp_path / "none"), environ=odd)["path_map"] == ["/srv/a:b=/mnt/a:b"]
    flags = settings.load(str(toml), {"path_map": ["/srv/x=/mnt/x"]}, environ={})
    assert worker_config(flags).path_map == ("/srv/x=/mnt/x",)
