"""Settings precedence: TOML file, then MEDIALOOM_* environment, then flags."""

from __future__ import annotations

from pathlib import Path

from medialoom import settings


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
