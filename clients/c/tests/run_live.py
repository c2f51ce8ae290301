"""Live tests of the C client: ``make -C clients/c live`` runs ``python run_live.py BUILD``.

1. A real broker (``python -m medialoom.broker``, temporary data dir and library, free
   loopback ports) and a worker pool (``python -m medialoom.workers -n 2``): the C test
   ``test_live broker`` (start -> watch -> cancel -> status, refusals, pipelining, an
   all-jobs watch), then the ``mlc`` example end to end (start, wait, also across a kill -9
   and restart of the broker, results, watch, list, cancel, the settings file, exit codes),
   then ``test_live broker`` and mlc again over CURVE, against a second real broker that
   runs with ``--curve`` (keys made by medialoom.keys in its data dir: a client, a watch
   and a worker key; a stranger's key it refuses).  Every process must exit 0 on SIGTERM.
2. A fake CURVE broker (tests/fake_broker.py: a pyzmq ROUTER and PUB with CURVE and a
   ZAP allow-list) for ``test_live curve DIR``: keys from certificate files written by
   ``zmq.auth.create_certificates``, the Clone pattern over scripted events, refused keys.

Run from the repository root with the venv's python.  Exit status 0 when all passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq
from fabric import Fabric
from fake_broker import FakeBroker, make_keys

HERE = Path(__file__).resolve().parent


class Checks:
    """Counted checks that print what failed."""

    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, ok: bool, what: str) -> None:
        if not ok:
            self.failed += 1
            print(f"FAIL {what}", flush=True)


def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def mlc_session(f: Fabric, mlc: str, check: Checks) -> None:
    """The mlc example against the real broker: what a user would type."""
    env = f.env()
    for i in range(3):  # files scan reads (unreadable tags are item failures, not errors)
        (f.root / f"track{i}.mp3").write_bytes(b"not really an mp3")
    out = run([mlc, "--json", "start", "scan", str(f.root)], env)
    check(out.returncode == 0, f"mlc start scan: {out.returncode} {out.stderr}")
    job = json.loads(out.stdout) if out.returncode == 0 else {"id": "?"}
    check(job.get("status") == "queued" and job.get("paths") == [str(f.root)],
          f"mlc start prints the queued job: {out.stdout[:300]}")
    out = run([mlc, "wait", job["id"]], env)
    check(out.returncode == 0 and "completed" in out.stdout, f"mlc wait: {out.stdout}")
    out = run([mlc, "results", job["id"]], env)
    check(out.returncode == 0 and out.stdout.count("track") == 3 and "3 of 3 items" in out.stdout,
          f"mlc results: {out.stdout} {out.stderr}")
    out = run([mlc, "start", "sleep", "--set", "seconds=1", "--set", "steps=10", "--watch"], env)
    lines = out.stdout.splitlines()
    check(out.returncode == 0 and "completed" in lines[-1] and "100.00%" in lines[-1]
          and len(lines) >= 4, f"mlc start --watch: {out.stdout} {out.stderr}")
    long = run([mlc, "--json", "start", "sleep", "--set", "seconds=60", "--set", "steps=60"], env)
    jid = json.loads(long.stdout)["id"]
    watcher = subprocess.Popen([mlc, "watch", jid], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    out = run([mlc, "cancel", jid], env)
    check(out.returncode == 0 and "cancel requested" in out.stdout, f"mlc cancel: {out.stdout}")
    try:
        watched, _ = watcher.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        watcher.kill()
        watched, _ = watcher.communicate()
    check(watcher.returncode == 0 and watched.splitlines()[-1].split()[1] == "cancelled",
          f"mlc watch ends with the cancel: {watched}")
    out = run([mlc, "status", jid], env)
    check(out.returncode == 0 and "cancelled" in out.stdout, f"mlc status: {out.stdout}")
    out = run([mlc, "status", jid[-8:].lower()], env)  # the end of an id names it
    check(out.returncode == 0 and jid in out.stdout, f"mlc status with 8 characters: {out}")
    out = run([mlc, "cancel", jid[:6]], env)  # ids made in the same minutes share a start
    check(out.returncode == 2 and "job.ambiguous" in out.stderr, f"a prefix of many: {out}")
    out = run([mlc, "list", "--status", "cancelled"], env)
    check(jid in out.stdout, f"mlc list --status cancelled: {out.stdout}")
    out = run([mlc, "--json", "start", "sleep", "--set", "seconds=4", "--set", "steps=8"], env)
    rid = json.loads(out.stdout)["id"]
    waiter = subprocess.Popen([mlc, "wait", rid], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    f.restart_broker()  # kill -9: the WAIT it held is gone; mlc asks again
    try:
        waited, _ = waiter.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        waiter.kill()
        waited, _ = waiter.communicate()
    check(waiter.returncode == 0 and "completed" in waited,
          f"mlc wait across a broker kill -9 and restart: {waited}")
    config = f.tmp / "config.toml"  # the settings file of SPEC.md 10.1, no variables
    config.write_text(f'# medialoom\nclients = "{f.clients}"\n[other]\nclients = "tcp://x:1"\n')
    plain = {k: v for k, v in env.items() if not k.startswith("MEDIALOOM_")}
    out = run([mlc, "--timeout", "5", "ping"], {**plain, "MEDIALOOM_CONFIG": str(config)})
    check(out.returncode == 0 and "broker clock" in out.stdout,
          f"mlc reads clients from the settings file: {out.stdout} {out.stderr}")
    for argv, code, text in [
        (["status", "01JDC3ZPQV7WE2N6VYBN0CG6KF"], 1, "job.not_found"),
        (["cancel", jid], 1, "job.finished"),
        (["start", "sleep", "--set", "seconds=soon"], 1, "job.bad_params"),
        (["start", "scan", "/etc"], 1, "path.forbidden"),
        (["frobnicate"], 2, "unknown command"),
        (["--clients", "tcp://127.0.0.1:9", "--timeout", "0.5", "ping"], 3, "broker.unavailable"),
    ]:
        out = run([mlc, *argv], env)
        check(out.returncode == code and text in out.stderr,
              f"mlc {' '.join(argv)}: exit {out.returncode} (want {code}), {out.stderr.strip()}")


def broker_tests(build: Path, check: Checks) -> None:
    with tempfile.TemporaryDirectory(prefix="mlc-live-") as tmp:
        f = Fabric(Path(tmp))
        with f:
            out = run([str(build / "test_live"), "broker"], f.env(), timeout=180)
            print(out.stdout, end="")
            check(out.returncode == 0, f"test_live broker:\n{out.stderr}\n{f.log('broker.log')}")
            mlc_session(f, str(build / "mlc"), check)
        check(all(code == 0 for code in f.codes.values()), f"clean exits: {f.codes}")
    with tempfile.TemporaryDirectory(prefix="mlc-live-curve-") as tmp:
        f = Fabric(Path(tmp), curve=True)
        with f:
            curve_session(f, build, Path(tmp), check)
        check(all(code == 0 for code in f.codes.values()), f"clean exits over CURVE: {f.codes}")


def curve_session(f: Fabric, build: Path, tmp: Path, check: Checks) -> None:
    """The same live session over CURVE, against a broker that runs with --curve."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
    plain["MEDIALOOM_CONFIG"] = str(tmp / "no-config.toml")
    env = {**plain, "MLT_CLIENTS": f.clients, "MLT_EVENTS": f.events_out,
           "MLT_KEY": f.key("client"), "MLT_BROKER_KEY": f.broker_key}
    out = run([str(build / "test_live"), "broker"], env, timeout=180)
    print("over CURVE: " + out.stdout, end="")
    check(out.returncode == 0, f"test_live broker over CURVE:\n{out.stderr}\n{f.log('broker.log')}")
    mlc = [str(build / "mlc"), "--clients", f.clients, "--events", f.events_out]
    out = run([*mlc, "--key", f.key("client"), "--broker-key", f.broker_key, "start", "sleep",
               "--set", "seconds=0.5", "--set", "steps=5", "--watch"], plain)
    check(out.returncode == 0 and "completed" in out.stdout.splitlines()[-1],
          f"mlc start --watch over CURVE: {out.stdout} {out.stderr}")
    # no --broker-key: the default, DATA_DIR/keys/broker.key (this is the broker's data dir)
    out = run([*mlc, "--key", f.key("client"), "ping"], {**plain, "MEDIALOOM_DATA_DIR": str(f.data)})
    check(out.returncode == 0 and "broker clock" in out.stdout,
          f"mlc finds the broker key in the data dir: {out.stdout} {out.stderr}")
    out = run([*mlc, "--key", f.key("watch"), "--broker-key", f.broker_key, "start", "sleep"],
              plain)
    check(out.returncode == 1 and "auth.forbidden" in out.stderr,
          f"mlc start with a watch key: {out.returncode} {out.stderr}")
    out = run([*mlc, "--key", f.key("watch"), "--broker-key", f.broker_key, "list"], plain)
    check(out.returncode == 0, f"mlc list with a watch key: {out.returncode} {out.stderr}")
    stranger = tmp / "stranger.key_secret"
    public, secret = zmq.curve_keypair()
    stranger.write_text(f'curve\n    public-key = "{public.decode()}"\n'
                        f'    secret-key = "{secret.decode()}"\n')
    out = run([*mlc, "--key", str(stranger), "--broker-key", f.broker_key, "--timeout", "2",
               "ping"], plain)
    check(out.returncode == 3 and "broker.unavailable" in out.stderr,
          f"mlc with a key the broker does not allow: {out.returncode} {out.stderr}")
    check("unknown key" in f.log("broker.log"), "the broker logged the stranger's key")


def curve_tests(build: Path, check: Checks) -> None:
    with tempfile.TemporaryDirectory(prefix="mlc-curve-") as tmp:
        keys = make_keys(Path(tmp))
        with FakeBroker(keys) as fake:
            env = {**os.environ, "MLT_CLIENTS": fake.clients, "MLT_EVENTS": fake.events,
                   "MEDIALOOM_DATA_DIR": str(Path(tmp) / "no-data")}
            out = run([str(build / "test_live"), "curve", str(keys)], env, timeout=120)
            print(out.stdout, end="")
            check(out.returncode == 0, f"test_live curve:\n{out.stderr}")
            check(fake.denied >= 1, f"the ZAP handler refused the stranger's key "
                                    f"({fake.denied} refusals)")


def main(argv: list[str]) -> int:
    build = Path(argv[1]).resolve() if len(argv) > 1 else HERE.parent / "build"
    check = Checks()
    broker_tests(build, check)
    curve_tests(build, check)
    print("run_live: " + ("all passed" if not check.failed else f"{check.failed} failed"))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
