"""The web UI in a real browser: Debian's chromium driven by Playwright (never a download).

Screenshots go to artifacts/screenshots/ (gitignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from medialoom.samplelib import generate
from tests.browser import SHOTS, Browser, Page, expect
from tests.gateway.conftest import GatewayProcess, run_gateway, stop_gateway
from tests.gateway.webhook_payloads import radarr_download, sonarr_download
from tests.support import System
from tests.video_fixtures import Videos, place, videos  # noqa: F401, F811 (fixture)

pytestmark = pytest.mark.e2e
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
# Records every Content-Security-Policy violation: the UI must run under its strict CSP.
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(
    `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
# A page on another origin that tries every write a browser sends without a preflight:
# a no-cors text/plain fetch with a JSON body, two auto-posting HTML forms (text/plain with
# the duplicate-key trick, and urlencoded), and a WebSocket.  GATEWAY is replaced.
ATTACK = """<!doctype html>
<html><head><meta charset="utf-8"><title>totally harmless</title></head><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="POST" action="GATEWAY/api/v1/jobs" enctype="text/plain" target="sink1">
<input name='{"kind":"x' value='","kind":"sleep","options":{"seconds":0,"steps":1}}'></form>
<form id="f2" method="POST" action="GATEWAY/batch" target="sink2">
<input name='{"path":"/","kind":"x' value='","kind":"sleep"}'></form>
<script>
window.__attack = {};
fetch("GATEWAY/api/v1/jobs", {method: "POST", mode: "no-cors",
  headers: {"Content-Type": "text/plain"},
  body: JSON.stringify({kind: "sleep", options: {seconds: 0, steps: 1}})})
  .then(() => { window.__attack.fetch = "sent"; },
        (e) => { window.__attack.fetch = "failed: " + e; });
const ws = new WebSocket("GATEWAY/api/v1/ws".replace(/^http/, "ws"));
ws.onopen = () => { window.__attack.ws = "open"; };
ws.onerror = () => { window.__attack.ws = "refused"; };
document.getElementById("f1").submit();
document.getElementById("f2").submit();
</script></body></html>
"""



@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at desktop size that records the job progress bar."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_BAR)
    context.add_init_script(RECORD_CSP)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    violations = pg.evaluate("window.__csp || []") if not pg.is_closed() else []
    context.close()
    assert violations == [], f"the UI broke its Content-Security-Policy: {violations}"


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
    page.wait_for_function("() => window.__bar.some(v => v > 0 && v < 100)",
                           timeout=30_000)
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
    page.wait_for_function("() => new Set(window.__bar.filter(v => v > 0)).size >= 4",
                           timeout=20_000)
    expect(page.locator("#job-progress .eta")).to_contain_text("ETA")
    expect(page.locator("#job-progress .current")).to_contain_text("step")
    shot(page, "04-sleep-running")
    clicked = time.monotonic()
    page.locator("#btn-cancel").click()
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=5_000)
    assert time.monotonic() - clicked < 8  # prompt, not the job's 60 s
    job_id = page.url.rsplit("/", 1)[-1]
    done = get_json(gateway_process, f"/api/v1/jobs/{job_id}")["progress"]["processed"]
    assert 0 < done < 600, done
    # the partial results, all of them: a page asked while the job ran (and answered late)
    # must not stay over the one asked at the cancel
    expect(page.locator("#results-count")).to_have_text(
        f"{done} item{'s' * (done != 1)}", timeout=5_000)
    rows = page.locator("#results-table tbody tr")
    expect(rows.first).not_to_contain_text("No item results")
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


@contextmanager
def attacker_site(html: str) -> Iterator[str]:
    """A second aiohttp server on another port (another origin) serving html at /."""
    ready, port = threading.Event(), []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        app = web.Application()

        async def page(request: web.Request) -> web.Response:
            return web.Response(text=html, content_type="text/html")

        app.router.add_get("/", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(runner.addresses[0][1])
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the attacker site did not start"
    try:
        yield f"http://127.0.0.1:{port[0]}/"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def refused_cross_origin(gp: GatewayProcess) -> int:
    return get_json(gp, "/api/v1/health")["gateway"]["refused"]["cross_origin"]


def run_attack(browser: Browser, gp: GatewayProcess, url: str) -> tuple[dict[str, str], int]:
    """Open url in a fresh context; the page's own report and the refusals it caused."""
    before = refused_cross_origin(gp)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(
            "() => window.__attack && window.__attack.fetch && window.__attack.ws",
            timeout=15_000)
        report = page.evaluate("window.__attack")
        deadline = time.monotonic() + 10  # the forms post after the script ran
        while refused_cross_origin(gp) - before < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        page.wait_for_timeout(500)
    finally:
        context.close()
    return report, refused_cross_origin(gp) - before


def test_a_page_on_another_origin_cannot_start_a_job(
        browser: Browser, gateway_process: GatewayProcess, tmp_path: Path) -> None:
    gw = gateway_process.url.rstrip("/")
    html = ATTACK.replace("GATEWAY", gw)
    attack_file = tmp_path / "attack.html"
    attack_file.write_text(html)
    # file:// (Origin: null) reaches the gateway whatever Local Network Access decides for
    # http pages, so this run proves the refusals are the gateway's: fetch, 2 forms, WebSocket
    report, refusals = run_attack(browser, gateway_process, attack_file.as_uri())
    assert report["ws"] == "refused", report
    assert refusals >= 4, (report, refusals, gateway_process.log_text()[-2000:])
    with attacker_site(html) as url:
        report, refusals = run_attack(browser, gateway_process, url)
    assert report["ws"] == "refused", report
    # Chromium's Local Network Access may stop an http page before it reaches loopback;
    # whatever did reach the gateway was refused (here, usually all four)
    assert 0 <= refusals <= 4, (report, refusals)
    assert get_json(gateway_process, "/api/v1/jobs")["total"] == 0  # no job was created
    assert get_json(gateway_process, "/api/v1/stats")["total"] == 0


# --- video kinds and webhooks (issue 10, item 4) ------------------------------------------


def post_webhook(gp: GatewayProcess, app: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a webhook as Sonarr/Radarr do: JSON, HTTP Basic with the token, no Origin."""
    basic = base64.b64encode(f"{app}:{gp.token}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310
        gp.url + f"api/v1/webhooks/{app}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"})
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
        return json.load(r)


def test_probe_results_show_a_streams_table_per_file(
        page: Page, gateway_process: GatewayProcess, system: System,
        videos: Videos) -> None:  # noqa: F811
    folder = system.root / "videos"
    place(videos["eng_jpn.mkv"], folder / "a.mkv")
    place(videos["eng_jpn.mp4"], folder / "b.mp4")
    with system.client() as c:
        job = c.start("probe", [str(folder)])
    page.goto(f"{gateway_process.url}#/jobs/{job['id']}")
    expect(page.locator("#job-status")).to_have_text("completed", timeout=30_000)
    tables = page.locator("#results-table table.streams")
    expect(tables).to_have_count(2)
    mkv = tables.first
    expect(mkv.locator("tbody tr")).to_have_count(3)
    video, eng, jpn = (mkv.locator("tbody tr").nth(i) for i in range(3))
    expect(video).to_contain_text("video")
    expect(video).to_contain_text("64×48")
    expect(eng).to_contain_text("eng")
    expect(eng.locator(".flag.on")).to_have_text("default")
    expect(jpn).to_contain_text("jpn")
    expect(jpn.locator(".flag.on")).to_have_count(0)
    expect(page.locator("#results-table tr.probe-file").first).to_contain_text("matroska")
    shot(page, "09-probe-streams")


def test_audio_default_plan_shows_tracks_and_the_default_before_and_after(
        page: Page, gateway_process: GatewayProcess, system: System,
        videos: Videos) -> None:  # noqa: F811
    folder = system.root / "films"
    place(videos["eng_jpn.mkv"], folder / "a.mkv")
    place(videos["eng_jpn.mp4"], folder / "b.mp4")
    with system.client() as c:
        job = c.start("audio-default", [str(folder)], {"languages": ["jpn"]}, dry_run=True)
    page.goto(f"{gateway_process.url}#/jobs/{job['id']}")
    expect(page.locator("#job-status")).to_have_text("completed", timeout=30_000)
    rows = page.locator("#plan-table tbody tr.audio-op")
    expect(rows).to_have_count(2)
    expect(page.locator("#plan-table thead")).to_contain_text("default before → after")
    for i in range(2):
        row = rows.nth(i)
        expect(row.locator("ul.tracks li")).to_have_count(2)
        expect(row.locator("ul.tracks li.chosen")).to_contain_text("jpn")
        expect(row.locator(".defaults .before")).to_have_text("eng (#1)")
        expect(row.locator(".defaults .after")).to_have_text("jpn (#2)")
        expect(row.locator("td.st")).to_have_text("planned")
    shot(page, "10-audio-default-plan")


def test_webhook_jobs_are_marked_with_their_app_and_event(
        page: Page, gateway_process: GatewayProcess, system: System,
        videos: Videos) -> None:  # noqa: F811
    series = system.root / "tv" / "Frieren"
    place(videos["eng_jpn.mkv"], series / "Season 01" / "Frieren - S01E01.mkv")
    movie = system.root / "movies" / "Heat (1995)"
    place(videos["eng_jpn.mkv"], movie / "Heat.mkv")
    sonarr = post_webhook(gateway_process, "sonarr", sonarr_download(
        "Season 01/Frieren - S01E01.mkv", series_path=str(series)))
    radarr = post_webhook(gateway_process, "radarr", radarr_download(
        "Heat.mkv", folder=str(movie), original="English"))
    with system.client() as c:
        by_hand = c.start("sleep", params={"seconds": 0})
    page.goto(gateway_process.url)
    row = page.locator(f"#job-list li[data-id='{sonarr['id']}']")
    expect(row.locator(".source")).to_have_text("Sonarr · Download")
    expect(page.locator(f"#job-list li[data-id='{radarr['id']}'] .source")).to_have_text(
        "Radarr · Download")
    expect(page.locator(f"#job-list li[data-id='{by_hand['id']}']")).to_be_visible()
    expect(page.locator(f"#job-list li[data-id='{by_hand['id']}'] .source")).to_have_count(0)
    expect(row.locator(".badge")).to_have_text("completed", timeout=60_000)
    shot(page, "11-webhook-jobs")
    row.locator("a").click()
    expect(page.locator("#job-source")).to_have_text("Sonarr · Download")
    expect(page.locator("#job-meta")).to_contain_text("Frieren: Beyond Journey's End")
    expect(page.locator("#job-meta")).to_contain_text("webhook")
    op = page.locator("#plan-table tbody tr.audio-op")
    expect(op.locator("td.file")).to_have_text("Frieren - S01E01.mkv")
    expect(op.locator(".defaults .before")).to_have_text("eng (#1)")
    expect(op.locator(".defaults .after")).to_have_text("jpn (#2)")
    expect(op.locator(".defaults .help")).to_contain_text("original jpn (given to the job)")
    expect(page.locator("#results-table td.st")).to_have_text("changed")
    shot(page, "12-webhook-job")
    page.goto(f"{gateway_process.url}#/jobs/{radarr['id']}")
    expect(page.locator("#job-source")).to_have_text("Radarr · Download")
    expect(page.locator("#results-table td.st")).to_have_text("unchanged", timeout=60_000)
