"""Kind specs as protocol data (issue 8, item 1): START is checked at once against the spec.

Real broker and worker processes; a third-party kind comes from an entry point of a
distribution on the worker's path only, so the broker knows it from READY alone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medialoom.clients.client import ClientError
from tests.support import System, make_system

pytestmark = pytest.mark.e2e

PLUGIN = '''
from medialoom.workers.kinds import Kind, Param


async def run(ctx):
    ctx.set_total(2)
    ctx.item("first", "weird")
    ctx.item("second", "fine")
    await ctx.checkpoint()
    return {"n": ctx.params["n"]}


KIND = Kind("echo", run, params={"n": Param((int,), 1, "a number")}, needs_paths=False,
            description="a kind only a worker knows", outcomes={"weird": "skipped",
                                                                "fine": "ok"})
'''


def refused(system: System, kind: str, paths: list[str], params: dict) -> ClientError:
    with system.client() as c, pytest.raises(ClientError) as info:
        c.start(kind, paths, params)
    return info.value


@pytest.mark.parametrize(("params", "field"), [
    ({"on_collision": "overwrite"}, "params.on_collision"),
    ({"template": "{artist - {title}"}, "params.template"),
    ({"template": "{artst} - {title}"}, "params.template"),
    ({"key_notation": "solfege"}, "params.key_notation"),
    ({"extensions": "mp3"}, "params.extensions"),
    ({"colour": "red"}, "params.colour"),
])
def test_bad_params_are_refused_at_start_and_create_no_job(broker_only: System, params: dict,
                                                           field: str) -> None:
    error = refused(broker_only, "rename", [str(broker_only.root)], params)
    assert error.code == "job.bad_params" and error.details == {"field": field}, error
    with broker_only.client() as c:
        assert c.list()["total"] == 0


def test_range_paths_and_rollback_targets_are_checked(broker_only: System) -> None:
    s = broker_only
    assert refused(s, "sleep", [], {"steps": -1}).details == {"field": "params.steps"}
    assert refused(s, "scan", [], {}).details == {"field": "paths"}
    with s.client() as c:
        sleep = c.start("sleep")["id"]
    error = refused(s, "rollback", [], {"job": sleep})
    assert error.code == "job.not_finished"
    with s.client() as c:
        c.cancel(sleep)
    error = refused(s, "rollback", [], {"job": sleep})
    assert error.code == "job.bad_params" and "changes no files" in str(error)
    error = refused(s, "rollback", [], {"job": "01NOSUCHJOB000000000000000"})
    assert error.code == "job.not_found" and error.details["field"] == "params.job"


def test_hello_carries_the_specs(broker_only: System) -> None:
    with broker_only.client() as c:
        hello = c.hello()
    rename = hello["specs"]["rename"]
    params = {p["name"]: p for p in rename["params"]}
    assert params["on_collision"]["choices"] == ["skip", "counter"]
    assert params["template"]["check"] == "rename-template"
    assert rename["changes_files"] and rename["needs_paths"]
    assert rename["outcomes"]["conflict"] == "failed"


def test_a_kind_only_a_worker_knows_is_listed_and_validated_from_its_spec(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "mlplugin").mkdir(parents=True)
    (plugin / "mlplugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    dist = plugin / "mlplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[medialoom.kinds]\necho = mlplugin:KIND\n")
    system = make_system(tmp_path)
    system.start_broker()  # without the plugin on its path
    monkeypatch.setenv("PYTHONPATH", str(plugin))
    system.start_worker(slots=1)
    try:
        with system.client() as c:
            hello = c.hello()
            assert "echo" in hello["kinds"]
            assert {p["name"] for p in hello["specs"]["echo"]["params"]} == {"n"}
            with pytest.raises(ClientError) as info:
                c.start("echo", params={"n": "seven"})
            assert info.value.details == {"field": "params.n"}
            done = c.wait(c.start("echo", params={"n": 7})["id"], timeout_s=30)
        assert done["status"] == "completed" and done["result"] == {"n": 7}
        progress = done["progress"]
        assert (progress["succeeded"], progress["skipped"], progress["failed"]) == (1, 1, 0)
    finally:
        system.stop()


def test_the_broker_imports_neither_mutagen_nor_aiohttp(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import asyncio, sys
        from medialoom.broker.__main__ import serve
        from medialoom.broker.config import BrokerConfig
        async def main():
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.5, stop.set)
            await serve(BrokerConfig(data_dir={str(tmp_path)!r}, roots=("/",),
                                     clients="tcp://127.0.0.1:0", workers="tcp://127.0.0.1:0",
                                     events_in="tcp://127.0.0.1:0",
                                     events_out="tcp://127.0.0.1:0"), stop)
        asyncio.run(main())
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("mutagen", "aiohttp"))
        print("HEAVY", heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout
