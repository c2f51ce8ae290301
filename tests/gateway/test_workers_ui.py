"""The web UI's Workers page in a real browser (Debian's chromium driven by Playwright): each
worker process with its host, busy slots, kinds and path mappings, the count of queued jobs no
worker can reach, and a job page saying why its job waits.  Real broker, worker and gateway
processes (issue 12, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import CSP, SHOTS, Browser, expect
from tests.gateway.conftest import GatewayProcess, run_gateway, stop_gateway
from tests.support import System, make_system
from tests.workers.test_pathmap import start_mapped_worker

pytestmark = pytest.mark.e2e



@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[System, GatewayProcess]]:
    s = make_system(tmp_path)
    for folder in (s.root / "music", s.root / "video", tmp_path / "mnt-music"):
        folder.mkdir()
    s.start_broker()
    start_mapped_worker(s, f"{s.root}/music={tmp_path}/mnt-music")
    gp = run_gateway(s, tmp_path / "gateway")
    yield s, gp
    assert stop_gateway(gp) == 0
    s.stop()


def test_the_workers_page_lists_mappings_and_a_job_page_says_why_it_waits(
        browser: Browser, stack: tuple[System, GatewayProcess], tmp_path: Path) -> None:
    system, gateway = stack
    with system.client() as c:
        job_id = c.start("scan", [str(system.root / "video")])["id"]
        system.wait_for(lambda: c.status(job_id)["waiting"], "the job's waiting note")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{gateway.url}#/")
        page.click("nav >> text=Workers")
        rows = page.locator("#workers-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(f"{system.root}/music → {tmp_path}/mnt-music")
        expect(rows.first).to_contain_text("0/2")
        expect(rows.first).to_contain_text("scan")
        expect(page.locator("#workers-count")).to_have_text("1 process, 0 of 2 slots busy")
        expect(page.locator("#workers-waiting")).to_have_text(
            "1 queued job waits for a worker that can reach its paths (the job's page says "
            "which path).")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "12-workers.png"), full_page=True)
        page.goto(f"{gateway.url}#/jobs/{job_id}")
        expect(page.locator("#job-status")).to_have_text("queued")
        expect(page.locator("#job-meta")).to_contain_text(
            f"no connected worker can reach {system.root}/video")
        # a worker that sees library paths as they are joins: the page lists it, the job runs
        system.start_worker()
        page.goto(f"{gateway.url}#/workers")
        expect(rows).to_have_count(2)
        expect(page.locator("#workers-table tbody")).to_contain_text("library paths as they are")
        expect(page.locator("#workers-waiting")).to_be_hidden()
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()
