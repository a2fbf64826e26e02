"""The shared support of tests and benchmarks: the one percentile rule, query sampling, peer
detection, the `needs` marker (skip without a program, fail in CI), and the import rules."""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks._common import (
    markdown_table,
    missing_peers,
    peer_version,
    percentile,
    percentiles,
    sample_queries,
    table_row,
    title_words,
)
from tests.support import requires
from tests.support.paths import ROOT


@pytest.mark.parametrize("p, expected", [
    (1, 1), (10, 1), (10.1, 2), (50, 5), (50.1, 6), (95, 10), (99, 10), (100, 10),
])
def test_percentile_is_the_nearest_rank(p, expected):
    assert percentile([7, 3, 10, 1, 2, 4, 5, 6, 8, 9], p) == expected


def test_percentile_of_a_hundred_values_is_that_rank_exactly():
    values = [float(n) for n in range(100, 0, -1)]
    assert percentiles(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert percentiles(values, (25, 99.9)) == {"p25": 25.0, "p99.9": 100.0}


def test_percentile_bounds():
    assert percentile([4.5], 99) == 4.5
    assert math.isnan(percentile([], 50))
    for bad in (0, -1, 100.5):
        with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
            percentile([1.0], bad)


TITLES = ["Oil prices rise as OPEC meets in Vienna", "Wheat exports fall sharply",
          "Bank of Japan holds rates", "Go"]


def test_title_words_keep_long_words_of_titles_with_enough_of_them():
    assert title_words(TITLES) == [["prices", "rise", "opec", "meets", "vienna"],
                                   ["wheat", "exports", "fall", "sharply"],
                                   ["bank", "japan", "holds", "rates"]]
    assert title_words(TITLES, stop={"bank", "japan", "holds"}) == title_words(TITLES)[:2]


def test_sample_queries_are_seeded_and_take_the_kinds_in_turn():
    queries = sample_queries(TITLES, 8, seed=3)
    assert queries == sample_queries(TITLES, 8, seed=3)
    assert [kind for kind, _ in queries] == ["term", "and2", "and3", "phrase"] * 2
    pools = title_words(TITLES)
    for kind, words in queries:
        assert len(words) == {"term": 1, "and2": 2, "and3": 3, "phrase": 2}[kind]
        pool = next(p for p in pools if set(words) <= set(p))
        if kind == "phrase":
            start = pool.index(words[0])
            assert pool[start:start + 2] == words
    with pytest.raises(ValueError, match="query kinds must be among"):
        sample_queries(TITLES, 1, seed=1, kinds=("fuzzy",))
    with pytest.raises(ValueError, match="no title has enough words"):
        sample_queries(["Go"], 1, seed=1)


def test_markdown_tables_have_a_header_its_rule_and_a_row_per_item():
    assert markdown_table(["extractor", "F1"], [["ours", "0.912"], ("peer", 0.5)]) == (
        "| extractor | F1 |\n|---|---|\n| ours | 0.912 |\n| peer | 0.5 |")
    assert markdown_table(["a"], []) == "| a |\n|---|"
    assert table_row(["x", 1, None]) == "| x | 1 | None |"


def test_peers_installed_or_missing():
    assert peer_version("whoosh-reloaded")  # a dependency: installed
    assert peer_version("no-such-peer-distribution") is None
    assert missing_peers(["flask", "no-such-peer-distribution"]) == ["no-such-peer-distribution"]


# -- the `needs` marker ---------------------------------------------------------------------------

NEEDS_TEST = textwrap.dedent('''
    import pytest

    from tests.support import requires

    # as if chromium were not installed: not on the (empty) PATH, nor where Debian puts it
    requires.TOOLS["chromium"] = ("/nonexistent/chromium", "apt-get install chromium")


    @pytest.mark.needs("chromium")
    def test_needs_chromium():
        raise AssertionError("ran without chromium")


    def test_needs_nothing():
        pass
''')


def run_needs_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run NEEDS_TEST with this suite's conftest (its hooks) and PATH empty."""
    test = tmp_path / "test_needs.py"
    test.write_text(NEEDS_TEST)
    environ = {k: v for k, v in os.environ.items() if k != requires.REQUIRE_ENV}
    environ.update(PATH=str(tmp_path), PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-rsf", "-q", "--rootdir", str(tmp_path), "-c", os.devnull, str(test)],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def test_a_missing_program_skips_with_its_reason(tmp_path):
    result = run_needs_test(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert re.search(r"SKIPPED \[1\] \S+: needs chromium, which is not installed "
                     r"\(apt-get install chromium\)\n", result.stdout), result.stdout


def test_a_missing_program_fails_when_tools_are_required(tmp_path):
    result = run_needs_test(tmp_path, **{requires.REQUIRE_ENV: "1"})
    assert result.returncode == 1
    assert "1 passed, 1 error" in result.stdout  # failed in setup, before the test ran
    assert ("needs chromium, which is not installed (apt-get install chromium), and "
            "NEWS_SEARCH_REQUIRE_TOOLS is set") in result.stdout
    assert "ran without chromium" not in result.stdout


def test_ci_requires_the_programs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"export {requires.REQUIRE_ENV}=1\n" in ci
    assert "apt-get install -y --no-install-recommends chromium redis-server" in ci


def collected(*options: str) -> set[str]:
    """The test ids pytest collects from the browser and scale-out modules."""
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *options,
         "tests/test_browser.py", "tests/test_scaleout.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120).stdout.splitlines()
    return {line for line in listed if line.startswith("tests/")}


def test_tests_that_start_programs_carry_the_marker():
    everything, marked = collected(), collected("-m", "needs")
    browser = {test for test in everything if test.startswith("tests/test_browser.py::")}
    assert browser and browser <= marked  # every browser test
    unmarked = {test.split("::")[1] for test in everything - marked}
    assert unmarked == {"test_worker_options_need_redis"}  # parses options, starts nothing


# -- import rules ---------------------------------------------------------------------------------

def imported_modules(path: Path) -> set[str]:
    """The modules a Python file imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_tests_and_benchmarks_share_only_tests_support_and_never_edit_sys_path():
    problems = []
    for path in sorted([*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py"),
                        *ROOT.glob("scripts/*.py")]):
        where = path.relative_to(ROOT)
        if any(f"sys.path.{edit}" in path.read_text() for edit in ("insert", "append")):
            problems.append(f"{where} edits sys.path")
        for module in imported_modules(path):
            if module.startswith("tests") and not module.startswith("tests.support"):
                problems.append(f"{where} imports {module}")
            if (module.startswith("benchmarks") and where.parts[0] != "benchmarks"
                    and where.name not in ("test_extraction_benchmark.py", "test_soak.py",
                                           "test_scale_benchmarks.py",
                                           "test_support.py")):  # tests of a benchmark's parts
                problems.append(f"{where} imports {module}")
    assert problems == []
