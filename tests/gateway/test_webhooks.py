"""Sonarr and Radarr webhooks through the gateway, against a real broker (and workers).

The bodies are what the apps send (tests/gateway/webhook_payloads.py, built
from their payload classes), with HTTP Basic auth as their Webhook
connection sends it.  Without workers the started job stays queued, so its
kind, params, paths and priority are read back with STATUS and LIST.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from medialoom.clients.gateway.webhook_config import WebhooksConfig, webhooks_config
from medialoom.clients.gateway.webhook_store import FILE
from tests.gateway.conftest import (
    JSON,
    gateway_config,
    open_client,
    run_gateway,
    stop_gateway,
    wait_job,
)
from tests.gateway.webhook_payloads import (
    radarr_download,
    radarr_test,
    sonarr_download,
    sonarr_import_complete,
    sonarr_test,
)
from tests.support import System, make_system
from tests.video_fixtures import Videos, default_audio, place, videos  # noqa: F401, F811 (fixture)

pytestmark = pytest.mark.e2e
TOKEN = "the-gateway-token-of-these-tests"
SECRET = "a-dedicated-webhook-secret"
EP1 = "Season 01/Frieren - S01E01.mkv"
EP2 = "Season 01/Frieren - S01E02.mkv"
EP3 = "Season 01/Frieren - S01E03.mkv"
MOVIE = "Spirited Away (2001) Bluray-1080p.mkv"


def basic(password: str, user: str = "sonarr") -> dict[str, str]:
    """The Authorization header Sonarr and Radarr send (ISO-8859-1, preemptive)."""
    raw = base64.b64encode(f"{user}:{password}".encode("latin-1")).decode()
    return {**JSON, "Authorization": f"Basic {raw}"}


def library(system: System) -> dict[str, Path]:
    """Library folders for the apps' /tv and /movies, with the files the payloads name."""
    tv, movies = system.root / "tv", system.root / "movies"
    for rel in (EP1, EP2, EP3):
        (tv / "Frieren" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tv / "Frieren" / rel).write_bytes(b"\x1a\x45\xdf\xa3 not really a video")
    (movies / "Spirited Away (2001)").mkdir(parents=True, exist_ok=True)
    (movies / "Spirited Away (2001)" / MOVIE).write_bytes(b"\x1a\x45\xdf\xa3")
    return {"tv": tv, "movies": movies}


def hooks(system: System, **apps: dict[str, Any]) -> WebhooksConfig:
    """Webhook settings mapping the apps' /tv and /movies into the test library."""
    tables: dict[str, Any] = {
        "sonarr": {"path_map": [{"remote": "/tv", "local": str(system.root / "tv")}]},
        "radarr": {"path_map": [{"remote": "/movies", "local": str(system.root / "movies")}]},
    }
    for app, table in apps.items():
        tables[app] = {**tables[app], **table}
    return webhooks_config({"secret": SECRET, **tables})


async def open_gateway(system: System, tmp_path: Path, webhooks: WebhooksConfig,
                       **kw: Any) -> TestClient:
    """The gateway app in front of system with the token and these webhook settings."""
    options = {"token": TOKEN, "webhooks": webhooks, **kw}
    return await open_client(gateway_config(system, tmp_path, **options))


@pytest.fixture
async def hook_gw(broker_only: System, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The gateway in front of a broker with no workers: started jobs stay queued."""
    library(broker_only)
    client = await open_gateway(broker_only, tmp_path, hooks(broker_only))
    yield client
    await client.close()


async def deliver(gw: TestClient, app: str, body: Any, expect: int,
                  headers: dict[str, str] | None = None, query: str = "",
                  method: str = "POST") -> dict[str, Any]:
    """Send one delivery; check the status; the JSON answer."""
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    r = await gw.request(method, f"/api/v1/webhooks/{app}{query}", data=data,
                         headers=basic(SECRET) if headers is None else headers)
    answer = await r.json()
    assert r.status == expect, json.dumps(answer)  # whole: the roots and paths it names
    return answer


async def send(gw: TestClient, app: str, body: Any) -> tuple[int, dict[str, Any]]:
    """One delivery with the secret: (status, answer)."""
    r = await gw.post(f"/api/v1/webhooks/{app}", data=json.dumps(body), headers=basic(SECRET))
    return r.status, await r.json()


async def jobs(gw: TestClient) -> list[dict[str, Any]]:
    r = await gw.get("/api/v1/jobs?limit=100", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status == 200
    return (await r.json())["jobs"]


async def job(gw: TestClient, job_id: str) -> dict[str, Any]:
    r = await gw.get(f"/api/v1/jobs/{job_id}")
    assert r.status == 200
    return await r.json()


# --- what a delivery starts ---------------------------------------------------------------


async def test_sonarr_download_starts_audio_default_on_the_file_at_webhook_priority(
        hook_gw: TestClient, broker_only: System) -> None:
    answer = await deliver(hook_gw, "sonarr", sonarr_download(EP1), 202)
    assert answer["status"] == "started" and answer["event"] == "Download"
    assert answer["original_language"] == "jpn"
    started = await job(hook_gw, answer["id"])
    assert started["kind"] == "audio-default"
    assert started["priority"] == "webhook"
    assert started["status"] == "queued"
    assert started["paths"] == [str(broker_only.root / "tv" / "Frieren" / EP1)]
    assert started["params"]["original_language"] == "jpn"
    assert started["params"]["languages"] == ["original", "eng"]  # the kind's default
    assert [j["id"] for j in await jobs(hook_gw)] == [answer["id"]]


async def test_the_original_language_comes_from_the_series_or_movie(
        hook_gw: TestClient) -> None:
    german = await deliver(hook_gw, "sonarr", sonarr_download(EP1, original="German"), 202)
    assert (await job(hook_gw, german["id"]))["params"]["original_language"] == "ger"
    french = await deliver(hook_gw, "radarr", radarr_download(MOVIE, original="French"), 202)
    assert (await job(hook_gw, french["id"]))["params"]["original_language"] == "fre"
    # Unknown (id 0) or no originalLanguage at all: the file's own tags decide
    unknown = await deliver(hook_gw, "sonarr",
                            sonarr_download(EP2, file_id=102, original="Unknown"), 202)
    assert unknown["original_language"] is None
    assert (await job(hook_gw, unknown["id"]))["params"]["original_language"] == ""
    missing = await deliver(hook_gw, "sonarr",
                            sonarr_download(EP3, file_id=103, original=None), 202)
    assert (await job(hook_gw, missing["id"]))["params"]["original_language"] == ""


async def test_radarr_download_starts_on_the_movie_file(hook_gw: TestClient,
                                                        broker_only: System) -> None:
    answer = await deliver(hook_gw, "radarr", radarr_download(MOVIE), 202,
                           headers=basic(SECRET, user="radarr"))
    started = await job(hook_gw, answer["id"])
    assert started["kind"] == "audio-default" and started["priority"] == "webhook"
    assert started["paths"] == [str(broker_only.root / "movies" / "Spirited Away (2001)" / MOVIE)]
    assert started["params"]["original_language"] == "jpn"


async def test_sonarr_import_complete_starts_one_job_over_the_files_not_handled_yet(
        hook_gw: TestClient, broker_only: System) -> None:
    # "On Import" sent EP1 alone first; "On Import Complete" then names the whole pack
    download_id = "D00DFEED00000000000000000000000000000000"
    first = await deliver(hook_gw, "sonarr",
                          sonarr_download(EP1, file_id=201, download_id=download_id), 202)
    pack = sonarr_import_complete([(201, EP1), (202, EP2), (203, EP3)], download_id)
    answer = await deliver(hook_gw, "sonarr", pack, 202)
    assert answer["shape"] == "ImportComplete" and answer["duplicates"] == 1
    started = await job(hook_gw, answer["id"])
    folder = broker_only.root / "tv" / "Frieren"
    assert started["paths"] == [str(folder / EP2), str(folder / EP3)]
    assert started["params"]["original_language"] == "jpn"
    assert answer["jobs"] == [answer["id"], first["id"]]
    again = await deliver(hook_gw, "sonarr", pack, 200)
    assert again["status"] == "duplicate"
    assert sorted(again["jobs"]) == sorted([first["id"], answer["id"]])
    assert len(await jobs(hook_gw)) == 2


async def test_test_events_answer_200_and_start_nothing(hook_gw: TestClient) -> None:
    sonarr = await deliver(hook_gw, "sonarr", sonarr_test(), 200)
    radarr = await deliver(hook_gw, "radarr", radarr_test(), 200)
    assert sonarr["status"] == radarr["status"] == "ok"
    assert sonarr["event"] == "Test"
    assert await jobs(hook_gw) == []


async def test_events_that_start_nothing_and_unknown_event_types_are_ignored(
        hook_gw: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    grab = sonarr_download(EP1)
    grab["eventType"] = "Grab"
    del grab["episodeFile"]
    assert (await deliver(hook_gw, "sonarr", grab, 200))["status"] == "ignored"
    rename = {"series": sonarr_download()["series"], "eventType": "Rename",
              "instanceName": "Sonarr", "renamedEpisodeFiles": [
                  {**sonarr_download(EP1)["episodeFile"], "previousPath": "/tv/Frieren/x.mkv",
                   "previousRelativePath": "x.mkv"}]}
    assert (await deliver(hook_gw, "sonarr", rename, 200))["status"] == "ignored"
    health = {"level": "warning", "message": "Indexers unavailable", "type": "IndexerStatusCheck",
              "wikiUrl": "https://wiki.servarr.com/", "eventType": "Health",
              "instanceName": "Sonarr"}
    assert (await deliver(hook_gw, "sonarr", health, 200))["status"] == "ignored"
    with caplog.at_level("INFO", logger="medialoom.gateway"):
        future = await deliver(hook_gw, "radarr", {"eventType": "MovieTeleported",
                                                   "somethingNew": {"x": 1}}, 200)
    assert future["status"] == "ignored"
    assert "unknown event type 'MovieTeleported'" in caplog.text
    assert await jobs(hook_gw) == []


async def test_rename_starts_a_job_when_configured(broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    gw = await open_gateway(broker_only, tmp_path,
                            hooks(broker_only, sonarr={"events": ["Download", "Rename"]}))
    try:
        rename = {"series": sonarr_download()["series"], "eventType": "Rename",
                  "instanceName": "Sonarr", "renamedEpisodeFiles": [
                      {**sonarr_download(EP2)["episodeFile"], "id": 102,
                       "previousPath": "/tv/Frieren/old.mkv", "previousRelativePath": "old.mkv"}]}
        answer = await deliver(gw, "sonarr", rename, 202)
        assert answer["shape"] == "Rename"
        assert (await job(gw, answer["id"]))["paths"] == [
            str(broker_only.root / "tv" / "Frieren" / EP2)]
    finally:
        await gw.close()


async def test_which_kind_and_params_a_webhook_starts_is_configurable(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    config = hooks(broker_only, sonarr={"kind": "probe", "params": {"timeout_s": 5},
                                        "priority": "high"},
                   radarr={"params": {"languages": ["eng", "original"], "hardlinks": "break"},
                           "dry_run": True})
    gw = await open_gateway(broker_only, tmp_path, config)
    try:
        probe = await job(gw, (await deliver(gw, "sonarr", sonarr_download(EP1), 202))["id"])
        assert probe["kind"] == "probe" and probe["priority"] == "high"
        assert probe["params"]["timeout_s"] == 5
        assert "original_language" not in probe["params"]  # probe takes none
        movie = await job(gw, (await deliver(gw, "radarr", radarr_download(MOVIE), 202))["id"])
        assert movie["kind"] == "audio-default" and movie["dry_run"] is True
        assert movie["params"]["languages"] == ["eng", "original"]
        assert movie["params"]["hardlinks"] == "break"
        assert movie["params"]["original_language"] == "jpn"
    finally:
        await gw.close()


async def test_webhook_jobs_are_marked_with_their_app_and_event(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    config = hooks(broker_only)
    gw = await open_gateway(broker_only, tmp_path, config, auth="always")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        sonarr = await deliver(gw, "sonarr", sonarr_download(EP1), 202)
        radarr = await deliver(gw, "radarr", radarr_download(MOVIE), 202)
        r = await gw.post("/api/v1/jobs", json={"kind": "sleep"}, headers={**JSON, **bearer})
        by_hand = (await r.json())["id"]
        ids = f"{sonarr['id']},{radarr['id']},{by_hand},nosuchjob"
        r = await gw.get(f"/api/v1/webhooks/jobs?id={ids}", headers=bearer)
        sources = (await r.json())["sources"]
        assert set(sources) == {sonarr["id"], radarr["id"]}
        assert sources[sonarr["id"]]["app"] == "sonarr"
        assert sources[sonarr["id"]]["event"] == "Download"
        assert sources[sonarr["id"]]["title"] == "Frieren: Beyond Journey's End"
        assert sources[radarr["id"]]["instance"] == "Radarr"
        r = await gw.get(f"/api/v1/webhooks/jobs?id={ids}")
        assert r.status == 401  # an API read like the others
        r = await gw.get("/api/v1/webhooks/jobs", headers=bearer)
        assert (await r.json())["error"]["details"]["field"] == "id"
    finally:
        await gw.close()
    gw = await open_gateway(broker_only, tmp_path, config)
    try:  # kept in DATA_DIR/webhooks.sqlite
        r = await gw.get(f"/api/v1/webhooks/jobs?id={sonarr['id']}&id={radarr['id']}")
        assert set((await r.json())["sources"]) == {sonarr["id"], radarr["id"]}
    finally:
        await gw.close()


# --- redelivery ---------------------------------------------------------------------------


async def test_a_redelivery_answers_the_first_job_even_after_a_gateway_restart(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    config = hooks(broker_only)
    gw = await open_gateway(broker_only, tmp_path, config)
    body = sonarr_download(EP1)
    try:
        first = await deliver(gw, "sonarr", body, 202)
        again = await deliver(gw, "sonarr", body, 200)
        assert again["status"] == "duplicate" and again["id"] == first["id"]
        # identical deliveries at once: one job, whichever arrives first starts it
        twins = sonarr_download(EP2, file_id=102, download_id="E" * 40)
        answers = await asyncio.gather(*(send(gw, "sonarr", twins) for _ in range(3)))
        assert sorted(status for status, _ in answers) == [200, 200, 202], answers
        assert len({a["id"] for _, a in answers}) == 1
        # and when the first one is refused, so are the others (nothing started)
        outside = sonarr_download(EP3, file_id=103, series_path="/elsewhere")
        answers = await asyncio.gather(*(send(gw, "sonarr", outside) for _ in range(3)))
        assert [status for status, _ in answers] == [403, 403, 403], answers
    finally:
        await gw.close()
    stored = tmp_path / "gateway" / FILE
    assert stored.stat().st_mode & 0o777 == 0o600
    gw = await open_gateway(broker_only, tmp_path, config)
    try:
        after = await deliver(gw, "sonarr", body, 200)
        assert after["id"] == first["id"]
        # an upgrade of the same episode is a new file (new id): it starts a job
        upgrade = sonarr_download(EP1, file_id=150, download_id="F" * 40, upgrade=True)
        (broker_only.root / "tv" / "Frieren" / EP1).write_bytes(b"better")
        await cancel_all(gw)
        assert (await deliver(gw, "sonarr", upgrade, 202))["id"] != first["id"]
        assert len(await jobs(gw)) == 3
    finally:
        await gw.close()


async def cancel_all(gw: TestClient) -> None:
    """Cancel every queued job (so a new job on the same path is no conflict)."""
    for j in await jobs(gw):
        if j["status"] == "queued":
            r = await gw.post(f"/api/v1/jobs/{j['id']}/cancel", headers=JSON)
            assert r.status == 200


async def test_a_delivery_outside_the_window_starts_again(broker_only: System,
                                                          tmp_path: Path) -> None:
    library(broker_only)
    config = webhooks_config({"secret": SECRET, "dedupe_window_s": 0, "sonarr": {
        "path_map": [{"remote": "/tv", "local": str(broker_only.root / "tv")}]}})
    gw = await open_gateway(broker_only, tmp_path, config)
    try:
        first = await deliver(gw, "sonarr", sonarr_download(EP1), 202)
        await asyncio.sleep(0.01)
        await cancel_all(gw)
        assert (await deliver(gw, "sonarr", sonarr_download(EP1), 202))["id"] != first["id"]
    finally:
        await gw.close()


# --- paths --------------------------------------------------------------------------------


async def test_path_maps_translate_the_apps_paths(broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    tv = str(broker_only.root / "tv")
    config = hooks(broker_only, sonarr={"path_map": [
        {"remote": "/data", "local": "/nowhere"},
        {"remote": "D:\\Media\\TV", "local": tv},
        {"remote": "/data/media/tv", "local": tv}]})
    gw = await open_gateway(broker_only, tmp_path, config)
    try:
        longest = await deliver(gw, "sonarr", sonarr_download(EP1, series_path="/data/media/tv/"
                                                                  "Frieren"), 202)
        assert longest["paths"] == [f"{tv}/Frieren/{EP1}"]
        windows = sonarr_download(EP2, file_id=102, series_path="d:\\media\\tv\\Frieren")
        windows["episodeFile"]["path"] = "d:\\media\\tv\\Frieren\\Season 01\\Frieren - S01E02.mkv"
        answer = await deliver(gw, "sonarr", windows, 202)
        assert answer["paths"] == [f"{tv}/Frieren/{EP2}"]
        # relativePath + series.path when a file has no path
        relative = sonarr_download(EP3, file_id=103, series_path="/data/media/tv/Frieren")
        del relative["episodeFile"]["path"]
        assert (await deliver(gw, "sonarr", relative, 202))["paths"] == [f"{tv}/Frieren/{EP3}"]
    finally:
        await gw.close()


async def test_a_path_outside_the_library_roots_is_refused(broker_only: System,
                                                           tmp_path: Path) -> None:
    library(broker_only)
    config = hooks(broker_only, sonarr={"path_map": [{"remote": "/tv", "local": "/srv/other"}]})
    gw = await open_gateway(broker_only, tmp_path, config)
    try:
        mapped = await deliver(gw, "sonarr", sonarr_download(EP1), 403)
        assert mapped["error"]["code"] == "path.forbidden"
        assert "/srv/other/Frieren" in mapped["error"]["message"]
        assert mapped["error"]["details"]["sent"] == f"/tv/Frieren/{EP1}"
        unmapped = await deliver(gw, "radarr", radarr_download(MOVIE, folder="/elsewhere/x"), 403)
        assert unmapped["error"]["code"] == "path.forbidden"
        assert "no path_map entry matched" in unmapped["error"]["message"]
        dots = radarr_download(MOVIE, folder="/movies/../../../etc")
        assert (await deliver(gw, "radarr", dots, 403))["error"]["code"] == "path.forbidden"
        assert await jobs(gw) == []
    finally:
        await gw.close()


# --- authentication -----------------------------------------------------------------------


async def test_basic_auth_with_the_token_or_the_secret_or_a_token_in_the_url(
        hook_gw: TestClient) -> None:
    await deliver(hook_gw, "sonarr", sonarr_test(), 200, headers=basic(SECRET))
    await deliver(hook_gw, "sonarr", sonarr_test(), 200, headers=basic(TOKEN, user=""))
    await deliver(hook_gw, "sonarr", sonarr_test(), 200, headers=JSON, query=f"?token={SECRET}")
    await deliver(hook_gw, "radarr", radarr_test(), 200,
                  headers={**JSON, "Authorization": f"Bearer {TOKEN}"})
    await deliver(hook_gw, "radarr", radarr_test(), 200, method="PUT")  # the PUT method option


@pytest.mark.parametrize("headers", [
    JSON, basic("wrong"), basic(""), {**JSON, "Authorization": "Basic !!!not-base64"},
    {**JSON, "Authorization": f"Basic {base64.b64encode(SECRET.encode()).decode()}"},  # no colon
    {**JSON, "Authorization": "Bearer wrong"},
])
async def test_wrong_or_missing_credentials_are_401_and_start_nothing(
        hook_gw: TestClient, headers: dict[str, str]) -> None:
    answer = await deliver(hook_gw, "sonarr", sonarr_download(EP1), 401, headers=headers)
    assert answer["error"]["code"] == "auth.unauthorized"
    answer = await deliver(hook_gw, "sonarr", sonarr_download(EP1), 401, headers=JSON,
                           query="?token=wrong")
    assert await jobs(hook_gw) == []


async def test_webhooks_pass_the_bearer_middleware_only_with_their_credentials(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    gw = await open_gateway(broker_only, tmp_path, hooks(broker_only), auth="always")
    try:
        await deliver(gw, "sonarr", sonarr_download(EP1), 202)
        await deliver(gw, "sonarr", sonarr_download(EP2, file_id=102), 401, headers=JSON)
        # the rest of the API still wants the bearer token: Basic and ?token= do not open it
        r = await gw.post("/api/v1/jobs", json={"kind": "sleep"}, headers=basic(TOKEN))
        assert r.status == 401
        r = await gw.post(f"/api/v1/jobs?token={TOKEN}", json={"kind": "sleep"}, headers=JSON)
        assert r.status == 401
    finally:
        await gw.close()


async def test_browser_cross_site_writes_are_refused_even_with_credentials(
        hook_gw: TestClient) -> None:
    for extra in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                  {"Sec-Fetch-Site": "cross-site"}):
        answer = await deliver(hook_gw, "sonarr", sonarr_download(EP1), 403,
                               headers={**JSON, **extra}, query=f"?token={TOKEN}")
        assert answer["error"]["code"] == "request.cross_origin"
    # a form or a text/plain fetch cannot write either
    answer = await deliver(hook_gw, "sonarr", sonarr_download(EP1), 415,
                           headers={**basic(SECRET), "Content-Type": "text/plain"})
    assert answer["error"]["code"] == "request.unsupported_media_type"
    assert await jobs(hook_gw) == []


async def test_without_any_secret_configured_webhooks_are_refused(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    gw = await open_gateway(broker_only, tmp_path, webhooks_config(None), token=None)
    try:
        answer = await deliver(gw, "sonarr", sonarr_test(), 401, headers=basic(""))
        assert "no webhook credentials are configured" in answer["error"]["message"]
    finally:
        await gw.close()


async def test_a_disabled_hook_is_403(broker_only: System, tmp_path: Path) -> None:
    gw = await open_gateway(broker_only, tmp_path, hooks(broker_only, radarr={"enabled": False}))
    try:
        answer = await deliver(gw, "radarr", radarr_test(), 403)
        assert answer["error"]["code"] == "webhook.disabled"
    finally:
        await gw.close()


# --- bad input ----------------------------------------------------------------------------


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


def setting(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


BAD = [
    ("not json", b"{not json", "request.bad_json", "body"),
    ("a JSON array", b"[1, 2]", "request.bad_field", "body"),
    ("NaN", b'{"eventType": NaN}', "request.bad_json", "body"),
    ("duplicate keys", b'{"eventType": "Test", "eventType": "Download"}', "request.bad_json",
     "body"),
    ("no eventType", without(sonarr_download(EP1), "eventType"), "webhook.bad_payload",
     "eventType"),
    ("eventType a number", setting(sonarr_download(EP1), 3, "eventType"), "webhook.bad_payload",
     "eventType"),
    ("no series", without(sonarr_download(EP1), "series"), "webhook.bad_payload", "series"),
    ("no episodeFile", without(sonarr_download(EP1), "episodeFile"), "webhook.bad_payload",
     "episodeFile"),
    ("no file id", without(sonarr_download(EP1), "episodeFile", "id"), "webhook.bad_payload",
     "episodeFile.id"),
    ("file id a string", setting(sonarr_download(EP1), "101", "episodeFile", "id"),
     "webhook.bad_payload", "episodeFile.id"),
    ("no path at all", without(without(sonarr_download(EP1), "episodeFile", "path"),
                               "episodeFile", "relativePath"), "webhook.bad_payload",
     "episodeFile.path"),
    ("path a list", setting(sonarr_download(EP1), ["/tv/x"], "episodeFile", "path"),
     "webhook.bad_payload", "episodeFile.path"),
    ("audioLanguages not strings", setting(sonarr_download(EP1), [1], "episodeFile",
                                           "mediaInfo", "audioLanguages"),
     "webhook.bad_payload", "episodeFile.mediaInfo.audioLanguages"),
    ("originalLanguage a string", setting(sonarr_download(EP1), "Japanese", "series",
                                          "originalLanguage"),
     "webhook.bad_payload", "series.originalLanguage"),
    ("isUpgrade a string", setting(sonarr_download(EP1), "yes", "isUpgrade"),
     "webhook.bad_payload", "isUpgrade"),
    ("empty episodeFiles", setting(without(sonarr_download(EP1), "episodeFile"), [],
                                   "episodeFiles"), "webhook.bad_payload", "episodeFiles"),
    ("NUL in a path", setting(sonarr_download(EP1), "/tv/Frieren/a\u0000.mkv", "episodeFile",
                              "path"), "webhook.bad_payload", "episodeFile.path"),
    ("an unknown field", setting(sonarr_download(EP1), 1, "episodeFileX"),
     "webhook.bad_payload", "episodeFileX"),
    ("a Radarr payload", radarr_download(MOVIE), "webhook.wrong_app", "movie"),
]


@pytest.mark.parametrize(("what", "body", "code", "field"), BAD, ids=[b[0] for b in BAD])
async def test_bad_payloads_are_400_naming_the_field_and_start_nothing(
        hook_gw: TestClient, what: str, body: Any, code: str, field: str) -> None:
    answer = await deliver(hook_gw, "sonarr", body, 400)
    assert answer["error"]["code"] == code, answer
    assert answer["error"]["details"]["field"] == field, answer
    assert await jobs(hook_gw) == []
    r = await hook_gw.get("/api/v1/health")
    assert r.status == 200  # still serving


async def test_a_sonarr_payload_on_the_radarr_url_is_400_wrong_app(hook_gw: TestClient) -> None:
    answer = await deliver(hook_gw, "radarr", sonarr_download(EP1), 400)
    assert answer["error"]["code"] == "webhook.wrong_app"
    assert "/api/v1/webhooks/sonarr" in answer["error"]["message"]


async def test_strict_false_accepts_fields_a_newer_app_version_adds(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    gw = await open_gateway(broker_only, tmp_path, hooks(broker_only, sonarr={"strict": False}))
    try:
        body = sonarr_download(EP1)
        body["somethingFromSonarr5"] = {"new": True}
        await deliver(gw, "sonarr", body, 202)
    finally:
        await gw.close()


def test_bad_webhook_settings_are_refused_naming_the_setting() -> None:
    for table, where in [
        ({"sonarr": {"kind": 3}}, "webhooks.sonarr.kind"),
        ({"sonarr": {"priority": "urgent"}}, "webhooks.sonarr.priority"),
        ({"sonarr": {"events": ["Grab"]}}, "webhooks.sonarr.events"),
        ({"sonarr": {"path_map": [{"remote": "/tv"}]}}, "webhooks.sonarr.path_map[0].local"),
        ({"sonarr": {"path_map": [{"remote": "tv", "local": "/srv"}]}},
         "webhooks.sonarr.path_map[0].remote"),
        ({"sonarr": {"path_map": {"remote": "/tv"}}}, "webhooks.sonarr.path_map"),
        ({"radarr": {"colour": "red"}}, "webhooks.radarr.colour"),
        ({"lidarr": {}}, "webhooks.lidarr"),
        ({"dedupe_window_s": -1}, "webhooks.dedupe_window_s"),
    ]:
        with pytest.raises(ValueError, match=where.replace("[", r"\[").replace("]", r"\]")):
            webhooks_config(table)


# --- with workers: priority ---------------------------------------------------------------


async def run_queue(tmp_path: Path, normal_kind: str) -> dict[str, dict[str, Any]]:
    """One worker slot kept busy by a sleep; three normal jobs of normal_kind queued, then a
    Sonarr Download (hook kind scan); every job's final map, the hook's under "hook"."""
    system = make_system(tmp_path)
    system.start_broker()
    try:
        system.start_worker(slots=1, kinds=("sleep", "scan"))
        folders = library(system)
        gw = await open_gateway(system, tmp_path, hooks(system, sonarr={"kind": "scan"}))
        try:
            async def start(body: dict[str, Any]) -> str:
                r = await gw.post("/api/v1/jobs", json=body, headers=JSON)
                assert r.status == 202, await r.text()
                return (await r.json())["id"]

            busy = await start({"kind": "sleep", "options": {"seconds": 1.5, "steps": 3}})
            await wait_job(gw, busy, {"running"})
            normal = []
            for i in range(3):
                body: dict[str, Any] = {"kind": normal_kind}
                if normal_kind == "scan":
                    other = folders["movies"] / f"other-{i}"
                    other.mkdir()
                    body["paths"] = [str(other)]
                normal.append(await start(body))
            hook = (await deliver(gw, "sonarr", sonarr_download(EP1), 202))["id"]
            done = {j: await wait_job(gw, j) for j in [busy, *normal, hook]}
            assert all(d["status"] == "completed" for d in done.values()), done
            done["hook"] = done[hook]
            return done
        finally:
            await gw.close()
    finally:
        system.stop()


def assert_hook_first(done: dict[str, dict[str, Any]]) -> None:
    hook = done.pop("hook")
    assert hook["priority"] == "webhook"
    order = sorted(done.values(), key=lambda j: j["started"])
    normal = [j for j in order if j["priority"] == "normal" and j["id"] != order[0]["id"]]
    assert len(normal) == 3
    assert all(hook["started"] < j["started"] for j in normal), [
        (j["kind"], j["priority"], j["started"]) for j in order]


async def test_the_webhook_job_runs_ahead_of_queued_normal_jobs(tmp_path: Path) -> None:
    assert_hook_first(await run_queue(tmp_path, "scan"))


async def test_the_webhook_job_runs_ahead_of_queued_normal_jobs_of_other_kinds(
        tmp_path: Path) -> None:
    assert_hook_first(await run_queue(tmp_path, "sleep"))


# --- the gateway process: settings from config.toml and the environment -------------------


def write_config(tmp_path: Path, system: System, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text.replace("LIB", str(system.root)))
    return path


async def test_the_gateway_process_takes_webhook_settings_from_config_toml(
        broker_only: System, tmp_path: Path) -> None:
    library(broker_only)
    config = write_config(tmp_path, broker_only, """
[webhooks]
secret = "from-the-file"

[webhooks.sonarr]
priority = "high"
path_map = [{ remote = "/tv", local = "LIB/tv" }]
""")
    gp = run_gateway(broker_only, tmp_path / "gw", "--config", str(config),
                     env={"MEDIALOOM_WEBHOOK_SECRET": "from-the-environment"})
    try:
        assert "webhooks: http://" in "".join(gp.output)
        async with aiohttp.ClientSession() as http:
            url = gp.url + "api/v1/webhooks/sonarr"
            async with http.post(url, json=sonarr_download(EP1),
                                 headers=basic("from-the-environment")) as r:
                answer = await r.json()
                assert r.status == 202, answer
            async with http.post(url, json=sonarr_test(), headers=basic("from-the-file")) as r:
                assert r.status == 401  # the environment's secret wins
            async with http.post(url, json=sonarr_test(), headers=basic(gp.token)) as r:
                assert r.status == 200  # the gateway token always works
            async with http.get(gp.url + f"api/v1/jobs/{answer['id']}") as r:
                started = await r.json()
        assert started["priority"] == "high"
        assert started["paths"] == [str(broker_only.root / "tv" / "Frieren" / EP1)]
    finally:
        assert stop_gateway(gp) == 0


def test_bad_webhook_settings_stop_the_gateway_with_exit_2(broker_only: System,
                                                           tmp_path: Path) -> None:
    config = write_config(tmp_path, broker_only, '[webhooks.sonarr]\npriority = "urgent"\n')
    done = subprocess.run([sys.executable, "-m", "medialoom.clients.gateway", "--listen",
                           "127.0.0.1:0", "--endpoint", broker_only.clients, "--data-dir",
                           str(tmp_path / "gw"), "--config", str(config)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2, done
    assert "webhooks.sonarr.priority" in done.stderr


# --- end to end: the audio-default kind run from a webhook --------------------------------


async def test_a_download_makes_the_original_language_the_default_audio_track(
        system: System, tmp_path: Path, videos: Videos) -> None:  # noqa: F811
    tv, movies = system.root / "tv", system.root / "movies"
    episode = place(videos["eng_jpn.mkv"], tv / "Frieren" / EP1)
    anime = place(videos["eng_jpn.mp4"], movies / "Spirited Away (2001)" / "Spirited Away.mp4")
    english = place(videos["eng_jpn.mkv"], movies / "Heat (1995)" / "Heat.mkv")
    gw = await open_gateway(system, tmp_path, hooks(system))
    try:
        sonarr = await deliver(gw, "sonarr", sonarr_download(EP1), 202)
        radarr = await deliver(gw, "radarr", radarr_download(
            "Spirited Away.mp4", folder="/movies/Spirited Away (2001)"), 202)
        heat = await deliver(gw, "radarr", radarr_download(
            "Heat.mkv", folder="/movies/Heat (1995)", file_id=77, download_id="H" * 40,
            original="English"), 202)
        for answer in (sonarr, radarr, heat):
            done = await wait_job(gw, answer["id"], timeout_s=60)
            assert done["status"] == "completed", done
            assert done["priority"] == "webhook"
        assert default_audio(episode) == [("eng", False), ("jpn", True)]
        assert default_audio(anime) == [("eng", False), ("jpn", True)]
        assert default_audio(english) == [("eng", True), ("jpn", False)]  # English original
        r = await gw.get(f"/api/v1/jobs/{heat['id']}/results")
        assert [i["status"] for i in (await r.json())["items"]] == ["unchanged"]
        r = await gw.get(f"/api/v1/jobs/{sonarr['id']}/plan")
        op = (await r.json())["ops"][0]
        assert op["details"]["original_language"] == "jpn"
        assert [(t["language"], t["default_before"], t["default_after"])
                for t in op["details"]["tracks"]] == [("eng", True, False), ("jpn", False, True)]
        # Sonarr retries the delivery: the same job, the file is not edited again
        before = episode.stat().st_mtime_ns
        again = await deliver(gw, "sonarr", sonarr_download(EP1), 200)
        assert again["id"] == sonarr["id"] and episode.stat().st_mtime_ns == before
    finally:
        await gw.close()


async def test_the_audio_default_webhook_job_runs_before_queued_normal_ones(
        tmp_path: Path, videos: Videos) -> None:  # noqa: F811
    system = make_system(tmp_path)
    system.start_broker()
    try:
        system.start_worker(slots=1, kinds=("sleep", "audio-default"))
        episode = place(videos["eng_jpn.mkv"], system.root / "tv" / "Frieren" / EP1)
        others = [place(videos["eng_jpn.mkv"], system.root / "batch" / f"{i}.mkv")
                  for i in range(3)]
        gw = await open_gateway(system, tmp_path, hooks(system))
        try:
            async def start(body: dict[str, Any]) -> str:
                r = await gw.post("/api/v1/jobs", json=body, headers=JSON)
                assert r.status == 202, await r.text()
                return (await r.json())["id"]

            busy = await start({"kind": "sleep", "options": {"seconds": 1.5, "steps": 3}})
            await wait_job(gw, busy, {"running"})
            normal = [await start({"kind": "audio-default", "paths": [str(p)],
                                   "options": {"languages": ["jpn"]}}) for p in others]
            hook = (await deliver(gw, "sonarr", sonarr_download(EP1), 202))["id"]
            done = {j: await wait_job(gw, j, timeout_s=60) for j in [busy, *normal, hook]}
            assert all(d["status"] == "completed" for d in done.values()), done
            assert all(done[hook]["started"] < done[n]["started"] for n in normal), [
                (d["priority"], d["started"]) for d in done.values()]
            assert default_audio(episode) == [("eng", False), ("jpn", True)]
        finally:
            await gw.close()
    finally:
        system.stop()
