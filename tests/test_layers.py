"""The import contracts (.importlinter) hold, would catch a wrong-way import, and private
APIs of Whoosh and Scrapy are used only in their compatibility modules."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "search_service"
CONTRACTS = ROOT / ".importlinter"
#: The one module per library allowed to use its private API.
COMPAT = {PACKAGE / "index" / "whoosh_compat.py", PACKAGE / "crawl" / "scrapy_compat.py",
          PACKAGE / "waitress_compat.py"}
#: Private names of the standard library that are documented for use.
STDLIB_PRIVATE = {("os", "_exit")}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter with the project's contracts over the package under `root`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         f"sys.exit(lint_imports(config_filename={str(CONTRACTS)!r}, no_cache=True, "
         "no_logo=True))"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("index/writer.py", "import search_service.web", "a layer imports only the layers below"),
    ("archive/warc.py", "import search_service.ingest", "a layer imports only the layers below"),
    ("web/display.py", "import search_service.crawl.sources", "a layer imports only"),
    ("ingest.py", "import whoosh.query", "Only index/ and search/ import whoosh"),
    ("search/rank.py", "import bs4", "Only normalise/ imports bs4"),
    ("index/stats.py", "import flask", "Only web/ imports flask"),
    ("web/display.py", "import twisted.internet", "Only crawl/ imports scrapy"),
])
def test_a_wrong_way_import_breaks_a_contract(tmp_path, module, line, broken):
    shutil.copytree(PACKAGE, tmp_path / "search_service",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    target = tmp_path / "search_service" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout


def private_uses(path: Path) -> list[str]:
    """`x._name` attribute uses, `getattr(x, "_name")` and `from a import _name` /
    `import a._b` imports in `path`, other than on self, cls and the documented private names
    of the standard library."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            if isinstance(base, ast.Name) and (base.id in ("self", "cls")
                                               or (base.id, node.attr) in STDLIB_PRIVATE):
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id} "
                         f"{node.args[1].value}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(alias.name for alias in node.names)]
            if any(_private(part) for name in names for part in name.split(".")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(_private(part) for part in alias.name.split(".")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {alias.name}")
    return found


def _private(name: str) -> bool:
    """A single-underscore name (not a dunder)."""
    return name.startswith("_") and not name.startswith("__")


def test_private_apis_only_in_the_compatibility_modules():
    uses = [use for path in sorted(PACKAGE.rglob("*.py")) if path not in COMPAT
            for use in private_uses(path)]
    assert uses == []


def test_the_compatibility_modules_are_what_the_check_sees():
    # The check above would pass vacuously if it could not see private uses.
    assert any("_download_handlers" in use
               for use in private_uses(PACKAGE / "crawl" / "scrapy_compat.py"))
    whoosh_uses = private_uses(PACKAGE / "index" / "whoosh_compat.py")
    assert any("._segments" in use for use in whoosh_uses)
    assert any("getattr _ix" in use for use in whoosh_uses)


def private_overrides(module) -> list[str]:
    """Methods of `module`'s classes that override a private method of a Whoosh, Scrapy or
    Twisted class (a hook of their internals)."""
    found = []
    for cls in vars(module).values():
        if not isinstance(cls, type) or cls.__module__ != module.__name__:
            continue
        for name, value in vars(cls).items():
            if not _private(name) or not callable(value):  # ABC bookkeeping is data
                continue
            for base in cls.__mro__[1:]:
                if base.__module__.split(".")[0] in ("whoosh", "scrapy", "twisted") \
                        and name in vars(base):
                    found.append(f"{module.__name__}.{cls.__name__}.{name} "
                                 f"overrides {base.__module__}.{base.__name__}")
    return found


def package_modules() -> list:
    """Every module of the package, imported."""
    import importlib

    names = [".".join(path.relative_to(ROOT).with_suffix("").parts)
             for path in sorted(PACKAGE.rglob("*.py"))]
    return [importlib.import_module(name.removesuffix(".__init__")) for name in names]


def test_private_hooks_are_overridden_only_in_the_compatibility_modules():
    compat = {"search_service.index.whoosh_compat", "search_service.crawl.scrapy_compat"}
    modules = package_modules()
    overrides = [o for m in modules if m.__name__ not in compat for o in private_overrides(m)]
    assert overrides == []
    seen = [o for m in modules if m.__name__ in compat for o in private_overrides(m)]
    assert any("WrappingQueryBase._rewrap" in o for o in seen)  # the check can see them
    assert any("ThrottleWithHook._adjust_delay" in o for o in seen)
