"""Read-only test inputs built once per test run, however many pytest-xdist workers ask.

A session fixture runs once in every xdist worker; an input that takes half a minute to build
(the bundled sample's index) would be built by each of them. `built_once` builds it in the
run's own temporary directory (the parent of every worker's, pytest's own one without xdist)
under a file lock: the first worker builds it, the others wait for it and share it. Whatever
is built so must never be changed by a test: copy it first.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of this test run, shared by its xdist workers."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is <run>/popen-gwN; without it the base is the run's.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str,
               build: Callable[[Path], None]) -> Path:
    """The path `name` in this run's directory, made by `build(path)` the first time any
    worker asks for it (the others wait on a lock, then reuse it); a build that failed is
    tried again by the next to ask."""
    root = run_dir(tmp_path_factory)
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not done.exists():
            if path.exists():  # what a failed build left behind
                shutil.rmtree(path)
            build(path)
            done.touch()
    return path
