"""Tests that need an outside program: `@pytest.mark.needs("chromium")` (or "redis-server").

Where the program is missing such a test is skipped with the reason; with the environment
variable `NEWS_SEARCH_REQUIRE_TOOLS=1` (set by `.ci/run`) it fails instead, so CI always runs
it. `tests/conftest.py` applies the marker before each test runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Set to a non-empty value other than "0" to turn a missing program into a failure.
REQUIRE_ENV = "NEWS_SEARCH_REQUIRE_TOOLS"
#: Each program a test may need: where Debian installs it, and how to get it.
TOOLS = {
    "chromium": ("/usr/bin/chromium", "apt-get install chromium"),
    "redis-server": ("/usr/bin/redis-server", "apt-get install redis-server"),
}


def find(tool: str) -> str | None:
    """The path of `tool` (on the PATH, else where Debian installs it), or None."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r} (known: {', '.join(sorted(TOOLS))})")
    default, _ = TOOLS[tool]
    found = shutil.which(tool)
    if found:
        return found
    return default if Path(default).is_file() and os.access(default, os.X_OK) else None


def required() -> bool:
    """Whether a missing program fails the test rather than skipping it."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def check(tool: str) -> None:
    """Skip the running test when `tool` is missing (fail it when tools are required)."""
    if find(tool):
        return
    reason = f"needs {tool}, which is not installed ({TOOLS[tool][1]})"
    if required():
        pytest.fail(f"{reason}, and {REQUIRE_ENV} is set", pytrace=False)
    pytest.skip(reason)
