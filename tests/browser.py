"""What every browser test shares: Playwright driving Debian's chromium (never a browser
download), one browser per test module, and the screenshot folder.

The ``browser`` fixture is registered for every test (tests/conftest.py loads this module
as a plugin); a module imports what it uses of Playwright from here.  Without the playwright
package a test that asks for ``browser`` is skipped, except in CI, where that is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import IN_CI, require_tool

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    if IN_CI:
        raise
    Browser = Page = Any  # type: ignore[misc,assignment]
    expect = sync_playwright = None  # type: ignore[assignment]

__all__ = ["CSP", "SHOTS", "Browser", "Page", "browser", "expect"]

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: records every Content-Security-Policy violation: the UI must run under its strict CSP
CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium from /usr/bin/chromium, one per test module."""
    if sync_playwright is None:
        pytest.skip("playwright is not installed")
    executable = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else \
        require_tool("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
