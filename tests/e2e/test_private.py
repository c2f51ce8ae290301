"""Private by default: the broker's data dir is 0700 and its store files 0600 (issue 7)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.support import make_system

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_existing_loose_install_is_tightened_and_new_files_are_private(
        tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.data_dir.mkdir(mode=0o755)
    system.data_dir.chmod(0o755)
    store = system.data_dir / "medialoom.sqlite3"
    store.touch()
    store.chmod(0o644)
    system.start_broker()
    try:
        with system.client() as c:
            c.start("sleep")  # a commit, so the WAL and SHM files exist
        assert mode(system.data_dir) == 0o700
        files = sorted(system.data_dir.glob("medialoom.sqlite3*"))
        assert {f.name for f in files} >= {"medialoom.sqlite3", "medialoom.sqlite3-wal",
                                            "medialoom.sqlite3-shm"}
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        assert set(system.stop().values()) == {0}
