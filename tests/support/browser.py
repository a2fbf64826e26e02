"""Debian's chromium driven by Playwright, for the browser tests: one headless browser per
test session, shared by every module that needs it (a second sync Playwright in the same
thread fails while the first is open)."""

from __future__ import annotations

from collections.abc import Iterator

from tests.support import requires

CHROMIUM = requires.find("chromium") or "/usr/bin/chromium"
#: Flags that keep a headless chromium off the network it cannot reach here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def launch() -> Iterator:
    """Start Playwright and a headless chromium; yield the browser; close both after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()
