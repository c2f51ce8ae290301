"""The web UI in a real browser: Debian's chromium driven by Playwright (never a download).

Screenshots go to artifacts/screenshots/ (gitignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medialoom.samplelib import generate
from tests.gateway.conftest import GatewayProcess, run_gateway, stop_gateway
from tests.support import IN_CI, System, require_tool

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    if IN_CI:
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Records every value the job page's progress bar takes.
RECORD_BAR = """
window.__bar = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.closest && r.target.closest('#job-progress'))
      window.__bar.push(Number(r.target.getAttribute('aria-valuenow')));
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['aria-valuenow']});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium from /usr/bin/chromium."""
    executable = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else \
        require_tool("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at desktop size that records the job progress bar."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_BAR)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def shot(page: Page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def get_json(gp: GatewayProcess, path: str) -> Any:
    with urllib.request.urlopen(gp.url.rstrip("/") + path, timeout=10) as r:  # noqa: S310
        return json.load(r)


def bar_values(page: Page) -> list[float]:
    return page.evaluate("window.__bar")


def test_start_a_scan_from_the_form_and_watch_the_bar_move(
        page: Page, gateway_process: GatewayProcess, system: System) -> None:
    lib = system.root / "lib"
    generate(str(lib), 12_000, corrupt=5)
    page.goto(gateway_process.url)
    form = page.locator("#start-form")
    expect(form.locator("select[name=kind] option[value=scan]")).to_have_count(1)
    form.locator("select[name=kind]").select_option("scan")
    form.locator("input[name=path]").fill(str(lib))
    expect(form.locator("input[name='opt.recursive']")).to_be_checked()
    shot(page, "01-start-form")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/#/jobs/*")
    page.wait_for_function("window.__bar.some(v => v > 0 && v < 100)", timeout=30_000)
    shot(page, "02-scan-running")
    expect(page.locator("#job-status")).to_have_text("completed", timeout=60_000)
    values = bar_values(page)
    during = sorted({v for v in values if 0 < v < 100})
    assert len(during) >= 3, values
    assert values[-1] == 100, values  # not monotonic: a scan's total grows as it walks
    expect(page.locator("#job-progress .pct")).to_have_text("100%")
    expect(page.locator("#results-count")).to_have_text("12000 items")
    page.locator("#results-filter").select_option(label="failed")
    expect(page.locator("#results-table tbody tr")).to_have_count(5)
    shot(page, "03-scan-completed-failed-items")


def test_cancel_a_long_job_shows_cancelled_and_partial_results(
        page: Page, gateway_process: GatewayProcess) -> None:
    page.goto(gateway_process.url)
    form = page.locator("#start-form")
    expect(form.locator("select[name=kind] option[value=sleep]")).to_have_count(1)
    form.locator("select[name=kind]").select_option("sleep")
    expect(form.locator("input[name=path]")).to_be_hidden()  # sleep takes no path
    form.locator("input[name='opt.seconds']").fill("60")
    form.locator("input[name='opt.steps']").fill("600")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/#/jobs/*")
    expect(page.locator("#job-status")).to_have_text("running")
    page.wait_for_function("new Set(window.__bar.filter(v => v > 0)).size >= 4", timeout=20_000)
    expect(page.locator("#job-progress .eta")).to_contain_text("ETA")
    expect(page.locator("#job-progress .current")).to_contain_text("step")
    shot(page, "04-sleep-running")
    clicked = time.monotonic()
    page.locator("#btn-cancel").click()
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=5_000)
    rows = page.locator("#results-table tbody tr")
    expect(rows.first).not_to_contain_text("No item results", timeout=3_000)
    assert time.monotonic() - clicked < 5
    count = page.locator("#results-count").inner_text()
    done = int(count.split()[0])
    assert 0 < done < 600, count
    job_id = page.url.rsplit("/", 1)[-1]
    assert get_json(gateway_process, f"/api/v1/jobs/{job_id}")["progress"]["processed"] == done
    expect(page.locator("#btn-cancel")).to_be_hidden()
    expect(page.locator("#btn-clear")).to_be_visible()
    expect(page.locator("#job-meta")).to_contain_text("took")
    expect(page.locator("#job-meta dd").nth(6)).not_to_have_text("–")  # finished time
    shot(page, "05-sleep-cancelled-partial-results")
    page.once("dialog", lambda d: d.accept())
    page.locator("#btn-clear").click()
    page.wait_for_url("**/#/")
    with pytest.raises(urllib.error.HTTPError) as gone:
        get_json(gateway_process, f"/api/v1/jobs/{job_id}")
    gone.value.close()
    assert gone.value.code == 404


def test_the_jobs_list_shows_a_new_job_and_its_live_progress(
        page: Page, gateway_process: GatewayProcess, system: System) -> None:
    page.goto(gateway_process.url)
    expect(page.locator("#conn")).to_have_text("live")
    expect(page.locator("#job-list .empty")).to_be_visible()
    page.evaluate("""() => {
      window.__list = [];
      new MutationObserver((records) => {
        for (const r of records) window.__list.push(Number(r.target.getAttribute('aria-valuenow')));
      }).observe(document.querySelector('#job-list'),
                 {subtree: true, attributes: true, attributeFilter: ['aria-valuenow']});
    }""")
    with system.client() as c:
        job_id = c.start("sleep", params={"seconds": 2, "steps": 20})["id"]
    row = page.locator(f"#job-list li[data-id='{job_id}']")
    expect(row).to_be_visible(timeout=5_000)
    expect(row.locator(".badge")).to_have_text("completed", timeout=20_000)
    values = page.evaluate("window.__list")
    assert len({v for v in values if 0 < v < 100}) >= 3, values
    expect(row.locator(".pct")).to_have_text("100%")
    expect(page.locator("#pageinfo")).to_have_text("1–1 of 1")


def test_dry_run_rename_shows_the_plan_with_conflicts(
        page: Page, gateway_process: GatewayProcess, system: System) -> None:
    lib = system.root / "dj"
    generate(str(lib), 40, corrupt=0, duplicates=0.2)
    assert "rename" in get_json(gateway_process, "/api/v1/health")["kinds"]
    page.goto(gateway_process.url)
    form = page.locator("#start-form")
    expect(form.locator("select[name=kind] option[value=rename]")).to_have_count(1)
    form.locator("select[name=kind]").select_option("rename")
    form.locator("input[name=path]").fill(str(lib))
    form.locator("input[name=dry_run]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/#/jobs/*")
    expect(page.locator("#job-dry")).to_be_visible()
    expect(page.locator("#job-status")).to_have_text("completed", timeout=30_000)
    expect(page.locator("#plan-card")).to_be_visible()
    rows = page.locator("#plan-table tbody tr")
    expect(rows.first).to_contain_text("→")
    assert rows.count() > 1
    for i in range(rows.count()):
        row = rows.nth(i)
        if "conflict" in row.locator("td.st").inner_text():
            assert "conflict" in (row.get_attribute("class") or "")
    shot(page, "06-rename-dry-run-plan")


def test_phone_width_and_a_thousand_jobs(browser: Browser, gateway_process: GatewayProcess,
                                         system: System) -> None:
    with system.client() as c:
        ids = [c.start("sleep", params={"seconds": 0, "steps": 1})["id"] for _ in range(1000)]
        system.wait_for(lambda: c.stats()["counts"]["completed"] == 1000, "1000 jobs done", 120)
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    try:
        started = time.monotonic()
        page.goto(gateway_process.url)
        expect(page.locator("#pageinfo")).to_have_text("1–50 of 1000")
        expect(page.locator("#job-list li[data-id]")).to_have_count(50)
        assert time.monotonic() - started < 5
        assert page.locator("#job-list li[data-id]").first.get_attribute("data-id") == ids[-1]
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"page is {width}px wide at 375"
        expect(page.locator("#conn")).to_have_text("live")
        shot(page, "07-phone-jobs-1000", full_page=False)
        page.locator("#next").click()
        expect(page.locator("#pageinfo")).to_have_text("51–100 of 1000")
        page.locator("#f-status").select_option("failed")
        expect(page.locator("#job-list .empty")).to_be_visible()
        page.locator("#f-status").select_option("")
        page.locator("#job-list li[data-id] a").first.click()
        expect(page.locator("#job-status")).to_have_text("completed")
        expect(page.locator("#results-table tbody tr")).to_have_count(1)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"job page is {width}px wide at 375"
        shot(page, "08-phone-job", full_page=False)
    finally:
        context.close()


def test_token_from_the_query_is_kept_and_the_ui_asks_without_it(
        browser: Browser, system: System, tmp_path: Path) -> None:
    gp = run_gateway(system, tmp_path / "gw-auth", "--auth", "always")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(gp.url)
        expect(page.locator("#auth")).to_be_visible()
        shot(page, "09-token-prompt")
        page.locator("#auth-token").fill(gp.token)
        page.locator("#auth-form button").click()
        expect(page.locator("#auth")).to_be_hidden()
        expect(page.locator("#conn")).to_have_text("live")
        page2 = context.new_page()
        page2.goto(f"{gp.url}?token={gp.token}")
        expect(page2.locator("#conn")).to_have_text("live")
        assert "token=" not in page2.url
        assert page2.evaluate("localStorage.getItem('medialoom.token')") == gp.token
        fresh = browser.new_context()
        other = fresh.new_page()
        other.goto(gp.url)
        expect(other.locator("#auth")).to_be_visible()
        fresh.close()
    finally:
        context.close()
        assert stop_gateway(gp) == 0
