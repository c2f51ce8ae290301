"""The web UI of a match job in a real browser (Debian's chromium driven by Playwright):
each track with its best match and score, the candidates of an ambiguous one, a filter by
match status.  Real broker, worker and gateway processes; the fake catalog in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import CSP, SHOTS, Browser, expect
from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import build_catalog
from tests.fakes.rekordbox_xml import write_collection
from tests.gateway.conftest import GatewayProcess, run_gateway, stop_gateway
from tests.support import System, make_system

pytestmark = pytest.mark.e2e



@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[System, GatewayProcess]]:
    s = make_system(tmp_path)
    s.start_broker()
    s.start_worker()
    gp = run_gateway(s, tmp_path / "gateway")
    yield s, gp
    assert stop_gateway(gp) == 0
    s.stop()


def test_match_results_show_best_match_score_candidates_and_filter(
        browser: Browser, stack: tuple[System, GatewayProcess]) -> None:
    system, gateway = stack
    catalog = build_catalog(7)
    by_id = catalog.by_id()
    with_remixes = next(s for s in catalog.songs if s.original and len(s.remixes) >= 2)
    titles = [r["title"] for r in catalog.recordings]
    alone = next(s for s in catalog.songs if s.original and not s.remixes and not s.radio_edit
                 and titles.count(s.title) == 1)
    tracks = [{"TrackID": "1", "Name": with_remixes.title,
               "Artist": with_remixes.join.join(with_remixes.artists)},
              {"TrackID": "2", "Name": alone.title, "Artist": alone.join.join(alone.artists),
               "TotalTime": str(int(alone.lengths[alone.original]))},
              {"TrackID": "3", "Name": "Zz Nothing Like It", "Artist": "Marcus Webb"}]
    xml = write_collection(system.root / "set.xml", tracks)
    with FakeCatalog(catalog.recordings, catalog.releases) as fake:
        with system.client() as c:
            # a margin the original cannot leave its remixes behind by: ambiguous
            job = c.start("match", [str(xml)], {"catalog_url": fake.url, "rate_limit": 50.0,
                                                "margin": 0.9})
            assert c.wait(job["id"], timeout_s=60)["status"] == "completed"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{gateway.url}#/jobs/{job['id']}")
        expect(page.locator("#job-status")).to_have_text("completed")
        rows = page.locator("#results-table tr.match-track")
        expect(rows).to_have_count(3)
        ambiguous = page.locator("#results-table tr.st-ambiguous")
        expect(ambiguous).to_contain_text(with_remixes.title)
        candidates = page.locator("#results-table tr.candidates-row table.candidates tbody tr")
        expect(candidates.first).to_contain_text("1.00")
        assert candidates.count() >= 1 + len(with_remixes.remixes)
        matched = page.locator("#results-table tr.st-matched")
        rec = by_id[alone.original]
        expect(matched).to_contain_text(rec["releases"][0]["title"])
        expect(matched.locator(".score")).to_have_text("1.00")
        expect(matched.locator("a")).to_have_attribute(
            "href", f"https://musicbrainz.org/recording/{alone.original}")
        expect(page.locator("#results-table tr.st-no_match")).to_contain_text("Marcus Webb")
        expect(page.locator("#plan-card")).to_be_hidden()  # no write_tags: nothing planned
        expect(page.locator("#btn-rollback")).to_be_hidden()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "11-match-results.png"), full_page=True)
        page.select_option("#results-filter", label="ambiguous")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(with_remixes.title)
        page.select_option("#results-filter", label="no match")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Marcus Webb")
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()
