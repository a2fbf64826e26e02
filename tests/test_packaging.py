"""Installable anywhere: the built wheel carries the templates, static files and sample, and
`news-search` installed from it into a fresh virtual environment serves the sample from a
directory outside the checkout."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
#: What the build needs from the checkout (copied, so the build leaves nothing behind in it).
BUILD_INPUTS = ("search_service", "templates", "static", "setup.cfg", "pyproject.toml",
                "README.md", "NOTICE")


def build_wheel(work: Path) -> Path:
    """Build the project's wheel from a copy of the checkout, offline; return its path."""
    source = work / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "--quiet", "-w", str(dist), str(source)],
                   check=True, timeout=600)
    (wheel,) = dist.glob("news_search-*.whl")
    return wheel


def fresh_venv(work: Path, wheel: Path) -> Path:
    """Make a virtual environment holding only the wheel; its dependencies come from this
    test's environment through a .pth file read after the new environment's own packages.
    Return the environment's bin directory."""
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--no-index", "--quiet", str(wheel)], check=True, timeout=600)
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip())
    # A plain path line appends this environment's site-packages to sys.path, after the new
    # one's; .pth files there (the checkout's editable install) are not processed.
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return env_dir / "bin"


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a new user: no PYTHONPATH, no index or archive settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
           and not k.startswith("NEWS_SEARCH_")}
    env["HOME"] = str(home)
    return env


def get(url: str) -> tuple[int, str, bytes]:
    """GET `url` over real HTTP; return status, content type and body."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_setup_cfg_lists_every_package():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    found = set(find_packages(str(ROOT), include=["search_service*"]))
    assert listed == found | {"search_service.templates", "search_service.static"}


def test_wheel_installed_in_a_fresh_venv_serves_the_sample(tmp_path):
    wheel = build_wheel(tmp_path)
    bindir = fresh_venv(tmp_path, wheel)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = clean_env(outside)

    where = subprocess.run([str(bindir / "python"), "-c",
                            "import search_service; print(search_service.__file__)"],
                           cwd=outside, env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where
    assert not Path(where).is_relative_to(ROOT)

    proc = subprocess.Popen([str(bindir / "news-search"), "demo", "--port", "0"],
                            cwd=outside, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        base = None
        deadline = time.monotonic() + 600
        while base is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            if match:
                base = match.group(1)
            elif proc.poll() is not None:
                raise AssertionError(f"news-search demo exited: {proc.stderr.read()}")
        assert base, "news-search demo did not start serving in time"
        assert (outside / "index").is_dir()  # the default index, in the working directory

        status, kind, body = get(base + "api/search?q=oil")
        data = json.loads(body)
        assert (status, kind) == (200, "application/json")
        assert data["total"] > 0 and data["results"]
        article_id = data["results"][0]["id"]

        status, kind, body = get(base + "?q=oil")
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert b"<mark>" in body and b'href="/static/style.css' in body

        status, kind, body = get(base + f"articles/{article_id}")
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert data["results"][0]["title"].encode() in body.replace(b"&#39;", b"'")

        status, kind, body = get(base + "static/style.css")
        assert (status, kind) == (200, "text/css; charset=utf-8")
        assert body == (ROOT / "static" / "style.css").read_bytes()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def install_requires() -> dict[str, str]:
    """setup.cfg's runtime requirements: name → specifier."""
    from packaging.requirements import Requirement

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    lines = [line for line in parser["options"]["install_requires"].splitlines()
             if line.strip() and not line.strip().startswith("#")]
    return {(req := Requirement(line)).name.lower(): str(req.specifier) for line in lines}


def test_every_dependency_has_an_upper_bound():
    from packaging.specifiers import SpecifierSet

    unbounded = [name for name, spec in install_requires().items()
                 if not any(s.operator in ("<", "<=", "~=", "==") for s in SpecifierSet(spec))]
    assert unbounded == []


def test_bounds_of_whoosh_and_scrapy_are_what_their_compat_modules_verified():
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from search_service.crawl import scrapy_compat
    from search_service.index import whoosh_compat

    for name, compat in (("whoosh-reloaded", whoosh_compat), ("scrapy", scrapy_compat)):
        allowed = SpecifierSet(install_requires()[name])
        verified = [Version(v) for v in compat.VERIFIED_VERSIONS]
        assert all(v in allowed for v in verified), name
        # nothing past the verified minor releases is allowed
        newest = max(verified)
        assert Version(f"{newest.major}.{newest.minor + 1}") not in allowed, name
        assert Version(f"{newest.major}.{newest.minor + 1}.0") not in allowed, name
