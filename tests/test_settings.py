"""Settings precedence: TOML file, then MEDIALOOM_* environment, then flags."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from medialoom import settings
from medialoom.broker.config import broker_settings
from medialoom.workers.config import WorkerConfig, worker_config, worker_settings


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "/from/file"\nroots = ["/a", "/b"]\nqueue_max = 5\n'
                   'max_attempts = 2\nunknown_key = 1\n')
    env = {"MEDIALOOM_QUEUE_MAX": "7", "MEDIALOOM_ROOTS": "/x:/y", "MEDIALOOM_HOST": "10.0.0.2"}
    s = settings.load(str(cfg), {"max_attempts": 9, "data_dir": None}, environ=env)
    assert s["data_dir"] == "/from/file"          # file (flag not given)
    assert s["roots"] == ["/x", "/y"]             # environment beats file
    assert s["queue_max"] == 7
    assert s["max_attempts"] == 9                 # flag beats both
    assert "unknown_key" not in s
    assert settings.endpoints(s) == {"clients": "tcp://10.0.0.2:5570",
                                     "workers": "tcp://10.0.0.2:5571",
                                     "events_in": "tcp://10.0.0.2:5572",
                                     "events_out": "tcp://10.0.0.2:5573"}


def test_defaults_are_loopback_and_a_missing_file_is_fine(tmp_path: Path) -> None:
    s = settings.load(str(tmp_path / "absent.toml"), {}, environ={})
    assert s == {}
    assert settings.endpoints(s)["clients"] == "tcp://127.0.0.1:5570"


def test_to_environ_round_trips_through_load(tmp_path: Path) -> None:
    values = {"roots": ["/srv/a:b", "/srv/c"], "kinds": ["scan", "sleep"], "gateway_hosts": [],
              "heartbeat_interval_s": 0.25, "slots": 3, "data_dir": "/d", "sync": "full",
              "webhooks": {"sonarr": {"enabled": True}}, "processes": None}
    env = settings.to_environ(values)
    assert env["MEDIALOOM_ROOTS"] == '["/srv/a:b", "/srv/c"]'  # ':' in a root: JSON
    assert env["MEDIALOOM_KINDS"] == "scan,sleep"
    assert env["MEDIALOOM_GATEWAY_HOSTS"] == "[]"              # empty, not unset
    assert "MEDIALOOM_PROCESSES" not in env                    # None: not passed
    back = settings.load(str(tmp_path / "absent.toml"), environ=env)
    assert back == {k: v for k, v in values.items() if v is not None}


def test_child_environ_wins_over_inherited_variables_and_keeps_the_rest() -> None:
    base = {"PATH": "/bin", "MEDIALOOM_QUEUE_MAX": "99", "MEDIALOOM_GATEWAY_TOKEN": "t"}
    env = settings.child_environ({"queue_max": 55}, base)
    assert env == {"PATH": "/bin", "MEDIALOOM_QUEUE_MAX": "55", "MEDIALOOM_GATEWAY_TOKEN": "t"}
    with pytest.raises(KeyError):
        settings.to_environ({"no_such_setting": 1})


def test_a_list_variable_that_only_looks_like_json_is_split() -> None:
    s = settings.load("/nonexistent.toml", environ={"MEDIALOOM_ROOTS": "[2019] Live:/b"})
    assert s["roots"] == ["[2019] Live", "/b"]


def test_worker_settings_from_the_environment_alone() -> None:
    env = {"MEDIALOOM_HOST": "10.0.0.9", "MEDIALOOM_SLOTS": "2", "MEDIALOOM_KINDS": "scan",
           "MEDIALOOM_EVENTS_IN": "ipc:///tmp/ev", "MEDIALOOM_THREADS": "8"}
    c = worker_config(settings.load("/nonexistent.toml", environ=env))
    assert c == WorkerConfig(workers="tcp://10.0.0.9:5571", events_in="ipc:///tmp/ev", slots=2,
                             kinds=("scan",), threads=8)
    again = settings.load("/nonexistent.toml",
                          environ=settings.to_environ(worker_settings(c)))
    assert worker_config(again) == c


def test_broker_config_from_the_environment_alone(tmp_path: Path, monkeypatch) -> None:
    from medialoom.broker.__main__ import add_arguments, config_from
    env = {"MEDIALOOM_DATA_DIR": str(tmp_path), "MEDIALOOM_ROOTS": str(tmp_path),
           "MEDIALOOM_CLIENTS": "tcp://127.0.0.1:7001", "MEDIALOOM_QUEUE_MAX": "5",
           "MEDIALOOM_CONFIG": str(tmp_path / "absent.toml")}
    for name in [k for k in os.environ if k.startswith("MEDIALOOM_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    p = argparse.ArgumentParser()
    add_arguments(p)
    c = config_from(p.parse_args([]))
    assert (c.data_dir, c.roots, c.clients, c.queue_max) == (
        str(tmp_path), (str(tmp_path),), "tcp://127.0.0.1:7001", 5)
    assert c.workers == "tcp://127.0.0.1:5571"
    flagged = config_from(p.parse_args(["--queue-max", "6"]))  # a flag wins
    assert flagged.queue_max == 6
    back = settings.load(str(tmp_path / "absent.toml"),
                         environ=settings.to_environ(broker_settings(c)))
    assert back["roots"] == [str(tmp_path)] and back["queue_max"] == 5


def test_readme_documents_every_setting_variable() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name in settings.KEYS
               if f"| `{name}` | `{settings.env_name(name)}` |" not in readme]
    assert not missing
