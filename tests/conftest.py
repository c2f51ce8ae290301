"""Shared fixtures: a real broker and real worker processes on loopback TCP ports.

The machinery lives in tests/support.py (importable as ``tests.support``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.support import IN_CI, System, free_ports, make_system, require_tool

__all__ = ["IN_CI", "System", "free_ports", "make_system", "require_tool"]
#: the ``browser`` fixture of the web UI tests (Playwright and Debian's chromium)
pytest_plugins = ("tests.browser",)


@pytest.fixture
def broker_only(tmp_path: Path) -> Iterator[System]:
    """A started broker with no workers."""
    system = make_system(tmp_path)
    system.start_broker()
    yield system
    system.stop()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    """A started broker and two worker processes with 2 slots each."""
    s = make_system(tmp_path)
    s.start_broker()
    s.start_worker()
    s.start_worker()
    yield s
    s.stop()


@pytest.fixture
def zctx() -> Iterator[zmq.Context]:
    """A private ZeroMQ context, terminated (and checked) at the end."""
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def raw_dealer(broker_only: System, zctx: zmq.Context) -> Iterator[zmq.Socket]:
    """A bare DEALER connected to broker_only's client channel (raw frames, no client)."""
    sock = zctx.socket(zmq.DEALER)
    sock.connect(broker_only.clients)
    yield sock
    sock.close(linger=0)


@pytest.fixture
def other_fs(tmp_path: Path) -> Iterator[Path]:
    """A folder on another file system than tmp_path (/dev/shm), removed afterwards."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system (/dev/shm) on this host")
    folder = shm / f"medialoom-test-{os.getpid()}-{tmp_path.name}"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder)
