"""The benchmarks of a large index, on a small one: a bulk build cut short is finished by
`benchmarks/bulk_build.py --resume` into the index a build in one go makes; the search
benchmarks measure an index built before (benchmarks/search.py and benchmarks/http_api.py
`--index DIR`, search.py `--stream distinct`) as it is, without building or changing it, over
distinct queries, and refuse a directory that holds no index. Run as the benchmarks are run:
`python -m`, in a child process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.search import distinct_queries
from search_service.index.schema import open_index
from search_service.index.whoosh_compat import segment_count
from search_service.index.writer import ArticleWriter
from tests.support.corpus import distinct, stories

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 400


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A small index of distinct articles, built as a bulk run builds it."""
    path = tmp_path_factory.mktemp("built") / "index"
    with ArticleWriter(open_index(path, create=True), batch=None, interval=None,
                       bulk=True) as writer:
        for article in distinct(ARTICLES):
            writer.add(article)
    return path


def listing(path: Path) -> dict[str, tuple[int, int]]:
    """Every file under `path` with its size and modification time."""
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in path.rglob("*") if p.is_file()}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `python -m <args>` from the checkout, as the benchmarks are run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_distinct_stream_repeats_no_query_and_warms_up_with_other_queries():
    queries, warm = distinct_queries(stories(), 200, 50, 1987, "2022-01-01")
    keys = [(tuple(q["terms"]), q["phrase"], q["since"], q["by_date"]) for q in queries]
    warm_keys = {(tuple(q["terms"]), q["phrase"], q["since"], q["by_date"]) for q in warm}
    assert len(queries) == 200 and len(set(keys)) == 200
    assert len(warm) == 50 and not warm_keys & set(keys)
    assert any(q["phrase"] for q in queries) and any(q["by_date"] for q in queries)
    assert any(q["since"] == "2022-01-01" for q in queries)


def test_in_process_benchmark_searches_the_given_index_without_changing_it(built, tmp_path):
    before = listing(built)
    done = run("benchmarks.search", "--index", str(built), "--engines", "ours",
               "--stream", "distinct", "--queries", "40", "--warm", "5", "--related", "0",
               "--corpus", "distinct", "--articles", "999", "--cache", str(tmp_path),
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "in process, 40 distinct queries, load average" in done.stdout
    row = next(line.split() for line in done.stdout.splitlines()
               if line.lstrip().startswith("ours "))
    # the index's own article count (not --articles), and no build figures: nothing was built
    assert row[1] == f"{ARTICLES:,}" and row[2] == "cached"
    p50, p95, _ = (float(x) for x in row[5].split("/"))
    assert 0 < p50 <= p95 and float(row[6]) > 0  # p50/p95/p99, then the mean
    assert listing(built) == before
    assert list(tmp_path.iterdir()) == []  # nothing built under --cache either


def test_http_benchmark_serves_the_given_index_and_reports_one_workers_memory(built, tmp_path):
    before = listing(built)
    done = run("benchmarks.http_api", "--index", str(built), "--servers", "ours",
               "--workers", "1", "--threads", "2", "--streams", "distinct",
               "--concurrency", "1", "--c1-requests", "30", "--warm", "5", "--queries", "60",
               "--articles", "999", "--cache", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"{ARTICLES:,} distinct articles ({built})" in done.stdout
    row = next(line.split() for line in done.stdout.splitlines()
               if line.lstrip().startswith("ours "))
    assert row[1:4] == ["distinct", "1", "30"] and row[-1] == "0"  # 30 requests, no errors
    memory = re.search(r"ours with 1 worker\(s\) .*PSS (\d+) = (\d+); private (\d+) = (\d+)",
                       done.stdout)
    assert memory and int(memory[1]) == int(memory[2]) > 0 and int(memory[3]) > 0
    assert listing(built) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module", ["benchmarks.search", "benchmarks.http_api"])
def test_a_directory_without_an_index_is_refused(module, tmp_path):
    done = run(module, "--index", str(tmp_path), "--related", "0") if module.endswith("search") \
        else run(module, "--index", str(tmp_path), "--servers", "ours")
    assert done.returncode == 2
    assert f"--index {tmp_path}: no index there" in done.stderr


def test_in_process_benchmark_refuses_related_stories_over_a_given_index(built):
    done = run("benchmarks.search", "--index", str(built), "--engines", "ours")
    assert done.returncode == 2 and "--index: pass --related 0" in done.stderr


def stored_urls(path: Path) -> list[str]:
    """The URLs of the articles in the index at `path`, sorted."""
    with open_index(path).searcher() as searcher:
        return sorted(fields["url"] for fields in searcher.all_stored_fields())


def test_a_resumed_bulk_build_ends_as_a_build_in_one_go(tmp_path):
    first = run("benchmarks.bulk_build", "--articles", "150", "--index", str(tmp_path / "ix"))
    assert first.returncode == 0, first.stderr
    assert "the index holds 150 articles" in first.stdout
    again = run("benchmarks.bulk_build", "--articles", "360", "--index", str(tmp_path / "ix"),
                "--resume")
    assert again.returncode == 0, again.stderr
    assert "resuming: the index holds 150 articles; adding the next 210" in again.stdout
    assert "ours: 210 articles" in again.stdout and "the index holds 360 articles" in again.stdout
    whole = run("benchmarks.bulk_build", "--articles", "360", "--index", str(tmp_path / "one"))
    assert whole.returncode == 0, whole.stderr
    assert stored_urls(tmp_path / "ix") == stored_urls(tmp_path / "one")
    assert len(set(stored_urls(tmp_path / "ix"))) == 360
    assert segment_count(open_index(tmp_path / "ix")) == 2  # one commit per run


def test_bulk_build_resumes_only_an_index_and_refuses_to_overwrite_one(built, tmp_path):
    done = run("benchmarks.bulk_build", "--articles", "10", "--index", str(tmp_path),
               "--resume")
    assert done.returncode == 2 and f"--resume: no index at {tmp_path}" in done.stderr
    done = run("benchmarks.bulk_build", "--articles", "10", "--index", str(built))
    assert done.returncode == 2 and "is not empty (--resume adds to it)" in done.stderr
    done = run("benchmarks.bulk_build", "--articles", "10", "--index", str(built), "--resume",
               "--engine", "whoosh")
    assert done.returncode == 2 and "--resume: only with --engine ours" in done.stderr
