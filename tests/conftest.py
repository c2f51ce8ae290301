"""Shared fixtures: a real broker and real worker processes on loopback TCP ports.

The machinery lives in tests/support.py (importable as ``tests.support``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.support import IN_CI, System, free_ports, make_system, require_tool

__all__ = ["IN_CI", "System", "free_ports", "make_system", "require_tool"]


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
