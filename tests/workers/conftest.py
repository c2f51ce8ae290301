"""Fixtures of the match kind's tests: the fixture catalog and a local MusicBrainz serving it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from medialoom.workers import http
from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import Catalog, build_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(7)


@pytest.fixture
def fake(catalog: Catalog) -> Iterator[FakeCatalog]:
    with FakeCatalog(catalog.recordings, catalog.releases) as server:
        yield server


@pytest.fixture
async def http_session() -> AsyncIterator[None]:
    """Close the worker process's HTTP session after a test that ran kinds in-process."""
    yield
    await http.close_session()
