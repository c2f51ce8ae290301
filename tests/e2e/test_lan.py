"""A LAN of real separate hosts on this machine (issue 12, item 5; SPEC.md 6.9).

Three hosts, each a network namespace joined to one bridge by a veth pair: the broker's,
and two worker hosts, A and B, each also in a mount and UTS namespace of its own (its own
host name).  The library (the broker's root) is one folder; each worker host sees it only
under its own prefix (a bind mount: /…/host-a/media on A, /…/host-b/share/music on B) and
not at all where the broker sees it (a tmpfs is mounted over that path on both), so a path
a worker did not map could not be opened.  The test process is a fourth host on the bridge
(the admin's laptop).  CURVE is on (the broker binds beyond loopback): each peer has a
key of its own on the broker's allow-lists.

A rename of 2,000 tagged files runs on a remote worker; mid-job that host's worker
processes get kill -9 and its link goes down; the broker requeues the job, host B
finishes it, and every file is renamed exactly once.  Needs root (namespaces, mounts): a
clear skip elsewhere, a failure in CI.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from medialoom.clients.client import Client
from medialoom.keys import KeyStore, client_curve
from tests.fileops.kindrun import write_track
from tests.support import IN_CI, contents, file_job_problems, free_ports, pages, require_tool

pytestmark = pytest.mark.e2e

FILES = 2000
HEARTBEAT_S = 0.25


def require_namespaces() -> None:
    """Root and working ``ip netns``: a failure in CI, a skip with the reason elsewhere."""
    for tool in ("ip", "unshare", "mount"):
        require_tool(tool)
    why = ""
    if os.geteuid() != 0:
        why = "needs root: it makes network namespaces, veth pairs and mounts"
    else:
        probe = f"mlprobe{os.getpid()}"
        made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
        if made.returncode:
            why = f"ip netns add does not work here: {made.stderr.strip()}"
    if why:
        if IN_CI:
            pytest.fail(f"the LAN test must run in CI: {why}")
        pytest.skip(why)


def sh(*argv: str) -> None:
    """Run a setup command; fail with its output."""
    run = subprocess.run(argv, capture_output=True, text=True)
    assert run.returncode == 0, f"{shlex.join(argv)}: {run.stderr.strip()}"


@dataclass
class Lan:
    """The namespaces, the bridge, the addresses, and the processes started on the hosts."""

    tmp: Path
    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")
    net: str = ""
    hosts: dict[str, str] = field(default_factory=dict)  # host -> address
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return f"ml{host}{self.tag}"

    def veth(self, host: str) -> str:
        """The host's end of its veth pair (the bridge's end has a b prefix)."""
        return f"ml{host[:2]}{self.tag}"

    def up(self) -> None:
        """A bridge in the broker's namespace; broker, a, b and this process joined to it."""
        self.net = _free_subnet()
        sh("ip", "netns", "add", self.ns("br"))
        for host in ("a", "b"):
            sh("ip", "netns", "add", self.ns(host))
        br = ["ip", "-n", self.ns("br")]
        sh(*br, "link", "add", "br0", "type", "bridge")
        sh(*br, "addr", "add", f"{self.net}.1/24", "dev", "br0")
        sh(*br, "link", "set", "br0", "up")
        sh(*br, "link", "set", "lo", "up")
        self.hosts["br"] = f"{self.net}.1"
        for n, host in enumerate(("a", "b", "me"), start=2):
            end, bridge_end = self.veth(host), "b" + self.veth(host)
            sh("ip", "link", "add", end, "type", "veth", "peer", "name", bridge_end)
            self.links.append(end)
            sh("ip", "link", "set", bridge_end, "netns", self.ns("br"))
            sh(*br, "link", "set", bridge_end, "master", "br0", "up")
            where = [] if host == "me" else ["-n", self.ns(host)]
            if host != "me":
                sh("ip", "link", "set", end, "netns", self.ns(host))
                sh("ip", *where, "link", "set", "lo", "up")
            sh("ip", *where, "addr", "add", f"{self.net}.{n}/24", "dev", end)
            sh("ip", *where, "link", "set", end, "up")
            self.hosts[host] = f"{self.net}.{n}"

    def start(self, host: str, argv: list[str], log: Path, env: dict[str, str],
              mounts: list[tuple[str, str]] = (), hide: str = "") -> subprocess.Popen[bytes]:
        """argv on host, in a session of its own; on a worker host, in its own mount and
        UTS namespace: bind mounts (source, target) made, hide covered by a tmpfs."""
        cmd = ["ip", "netns", "exec", self.ns(host)]
        if host != "br":
            script = [f"hostname host-{host}"]
            script += [f"mount --bind {shlex.quote(s)} {shlex.quote(t)}" for s, t in mounts]
            if hide:
                script.append(f"mount -t tmpfs -o size=1m,mode=0755 tmpfs {shlex.quote(hide)}")
            script.append('exec "$@"')
            cmd += ["unshare", "--mount", "--uts", "--propagation", "private", "sh", "-ec",
                    "; ".join(script), "sh"]
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            proc = subprocess.Popen([*cmd, *argv], stdout=fd, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True)
        finally:
            os.close(fd)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """kill -9 proc's whole process group (a pool and its worker processes)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def link_down(self, host: str) -> None:
        sh("ip", "-n", self.ns(host), "link", "set", self.veth(host), "down")

    def down(self) -> None:
        """Stop what still runs, then remove the namespaces and this host's veth end."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        for host in ("a", "b", "br"):
            subprocess.run(["ip", "netns", "del", self.ns(host)], capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)


def _free_subnet() -> str:
    """A 10.x.y /24 no route of this host uses."""
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True,
                            text=True).stdout
    for k in range(200):
        n = (os.getpid() + k) % 2500
        net = f"10.{200 + n // 250}.{n % 250}"
        if f"{net}." not in routes:
            return net
    raise AssertionError("no free 10.x.y.0/24 for the test LAN")


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[Lan]:
    require_namespaces()
    lan = Lan(tmp_path)
    try:
        lan.up()
        yield lan
    finally:
        lan.down()


def make_library(folder: Path, count: int) -> dict[str, str]:
    """count tagged MP3s in albums of 100; {original name: name after the default rename}."""
    names = {}
    for i in range(count):
        rel = f"Album {i // 100:02d}/{i:04d}.mp3"
        write_track(folder / rel, {"artist": f"Artist {i % 7}", "title": f"Song {i:04d}"}, 0.1)
        names[rel] = f"Album {i // 100:02d}/Artist {i % 7} - Song {i:04d}.mp3"
    return names


def curve_keys(data_dir: Path) -> dict[str, dict[str, str]]:
    """The broker's key pair and one issued pair per peer: {peer: its MEDIALOOM_* keys}."""
    store = KeyStore(str(data_dir))
    store.init()
    out = {}
    for peer, role in (("host-a", "worker"), ("host-b", "worker"), ("laptop", "client")):
        issued = store.add(role, peer)
        out[peer] = {"MEDIALOOM_KEY": issued.secret_file,
                     "MEDIALOOM_BROKER_KEY": store.broker_public}
    return out


def client_of(endpoints: dict[str, str], keys: dict[str, str]) -> Client:
    """A client on this host (the laptop) with its CURVE key."""
    curve = client_curve({"key": keys["MEDIALOOM_KEY"],
                          "broker_key": keys["MEDIALOOM_BROKER_KEY"]})
    return Client(endpoints["clients"], endpoints["events_out"], timeout_s=10, curve=curve)


def wait_until(predicate: Any, what: str, logs: Path, timeout_s: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    tails = "".join(f"\n--- {p.name} ---\n{p.read_text(errors='replace')[-2500:]}"
                    for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out waiting for {what}{tails}")


def test_a_rename_survives_losing_a_remote_host_and_every_file_is_renamed_once(
        lan: Lan, tmp_path: Path) -> None:
    library, logs, data = tmp_path / "library", tmp_path / "logs", tmp_path / "data"
    logs.mkdir()
    expected = make_library(library, FILES)
    before = contents(library)
    views = {"a": tmp_path / "host-a" / "media", "b": tmp_path / "host-b" / "share" / "music"}
    for view in views.values():
        view.mkdir(parents=True)
    ports = dict(zip(("clients", "workers", "events_in", "events_out"), free_ports(4),
                     strict=True))
    endpoints = {name: f"tcp://{lan.hosts['br']}:{port}" for name, port in ports.items()}
    keys = curve_keys(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
    env["MEDIALOOM_CONFIG"] = str(tmp_path / "no-config.toml")

    broker_argv = [sys.executable, "-m", "medialoom.broker", "--data-dir", str(data),
                   "--root", str(library), "--heartbeat", str(HEARTBEAT_S), "--liveness", "4",
                   *[a for name, ep in endpoints.items()
                     for a in (f"--{name.replace('_', '-')}", ep)],
                   "--curve"]
    lan.start("br", broker_argv, logs / "broker.log", env)
    pools = {}
    for host in ("a", "b"):
        host_env = {**env, **keys[f"host-{host}"],
                    "MEDIALOOM_PATH_MAP": f"{library}={views[host]}"}
        argv = [sys.executable, "-m", "medialoom.workers", "-n", "2", "--slots", "1",
                "--broker", lan.hosts["br"], "--workers", endpoints["workers"],
                "--events-in", endpoints["events_in"], "--heartbeat", str(HEARTBEAT_S)]
        pools[host] = lan.start(host, argv, logs / f"host-{host}.log", host_env,
                                mounts=[(str(library), str(views[host]))], hide=str(library))

    with client_of(endpoints, keys["laptop"]) as c:
        def four_workers() -> list[dict[str, Any]] | None:
            try:
                workers = c.stats()["workers"]
            except Exception:
                return None
            return workers if len(workers) == 4 else None

        workers = wait_until(four_workers, "both hosts' 4 worker processes", logs)
        maps = {w["host"]: w["path_map"] for w in workers}
        assert maps == {"host-a": [[str(library), str(views["a"])]],
                        "host-b": [[str(library), str(views["b"])]]}

        job_id = c.start("rename", [str(library)])["id"]

        def applying() -> tuple[str, int] | None:
            job = c.status(job_id)
            assert job["status"] in ("queued", "running"), f"not killed in time: {job}"
            if not (job["planned"] and job["progress"]["processed"]):
                return None
            host = next((w["host"] for w in c.stats()["workers"] if job_id in w["jobs"]), "")
            return (host, job["progress"]["processed"]) if host else None

        victim, applied = wait_until(applying, "the rename to be applying its plan", logs)
        survivor = "host-b" if victim == "host-a" else "host-a"
        lan.kill(pools[victim[-1]])
        lan.link_down(victim[-1])
        done = c.wait(job_id, timeout_s=60)
        stats = c.stats()
        plan, _ = pages(c, "plan", job_id)
        items, _ = pages(c, "results", job_id)
        problems = file_job_problems(c, done, FILES)

    assert "CURVE on, 3 keys allowed" in (logs / "broker.log").read_text()
    assert done["status"] == "completed", done
    assert done["attempts"] == 2, done  # one attempt lost with the host, one completed
    assert {w["host"] for w in stats["workers"]} == {survivor}
    assert not problems, problems
    # every file renamed exactly once: each original name gone, each new name there, the
    # same bytes (the renames moved files, never copied or clobbered one)
    assert sorted(str(p.relative_to(library)) for p in library.rglob("*.mp3")) == \
        sorted(expected.values())
    assert contents(library) == before
    assert {op["src"] for op in plan} == {str(library / rel) for rel in expected}
    assert {op["dst"] for op in plan} == {str(library / new) for new in expected.values()}
    assert Counter(item["status"] for item in items) == {"renamed": FILES}
    # what the lost host had applied (at least what the broker had heard of) was found done
    # by the survivor, not applied again; the survivor did the rest
    redone = sum(item["details"].get("reconciled") == "done" for item in items)
    assert applied <= redone < FILES, (applied, redone)
    survivor_log = (logs / f"{survivor}.log").read_text()
    assert f"attempt 2 reconciles the stored plan of {FILES} operations" in survivor_log
    assert all("dev" not in op["expect"] for op in plan)
    seen = json.dumps([plan, items, done])
    assert str(views["a"]) not in seen and str(views["b"]) not in seen
