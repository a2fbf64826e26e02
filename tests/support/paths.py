"""Where things are: the repository root, the test fixtures, the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the directory holding setup.cfg).
ROOT = Path(__file__).resolve().parents[2]
#: Real data shared between projects (`../shared/data` beside the checkout; see its READMEs).
SHARED_DATA = ROOT.parent / "shared" / "data"
#: The test fixtures: saved article pages and a small WARC file.
FIXTURES = ROOT / "tests" / "fixtures"
PAGES = FIXTURES / "pages"
SMALL_WARC = FIXTURES / "wire-sample.warc.gz"
#: The URL of the seed story, which the small WARC file holds a near-duplicate of.
SEED_URL = "https://dispatch.example/world/nato-ukraine-military-involvement"


def child_env() -> dict[str, str]:
    """The environment for a subprocess running this checkout's code (it first on the path)."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}
