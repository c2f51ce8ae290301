"""The wheel carries every module and data file of the source tree.

The editable install of `make` maps the package folders itself, so a package folder missing from
pyproject.toml's list works there and shows only in `pip install .` (workers/tagfast did).
"""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# source folder -> the package path it is installed as
FOLDERS = {
    "medialoom": "medialoom",
    "protocol": "medialoom/protocol",
    "broker": "medialoom/broker",
    "workers": "medialoom/workers",
    "clients": "medialoom/clients",
}
DATA = ("*.md", "*.json", "*.html", "*.js", "*.css")


def _expected() -> set[str]:
    names = set()
    for folder, package in FOLDERS.items():
        base = ROOT / folder
        for path in base.rglob("*"):
            rel = path.relative_to(base)
            if not path.is_file() or "__pycache__" in rel.parts or "node_modules" in rel.parts:
                continue
            if folder == "clients" and rel.parts[0] in ("c", "js"):
                continue  # the C and JS clients are built by their own tools, not shipped
            data = path.parent.name in ("static", "vectors") or path.name == "SPEC.md"
            if path.suffix == ".py" or (data and any(path.match(p) for p in DATA)):
                names.add(f"{package}/{rel.as_posix()}")
    return names


def test_the_wheel_holds_every_module_and_data_file(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True, timeout=300, capture_output=True, text=True)
    # setuptools still ships a package folder left out of `packages`, as data, with a warning
    # that a later version will leave it out
    assert "Package would be ignored" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("medialoom-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    expected = _expected()
    assert "medialoom/workers/tagfast/id3.py" in expected
    assert "medialoom/protocol/SPEC.md" in expected
    missing = sorted(expected - shipped)
    assert not missing, f"pyproject.toml does not ship: {missing}"
