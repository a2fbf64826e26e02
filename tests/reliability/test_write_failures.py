"""Writes that cannot happen: a full disk, a read-only index, a second writer. Each gives a
clear error (no traceback) and a non-zero exit, and the index keeps every earlier commit.

A full disk is simulated with RLIMIT_FSIZE in the child (writes past the cap fail with EFBIG,
as they fail with ENOSPC on a full disk; `benchmarks/drill.py` fills a real tmpfs). A
read-only index is a read-only bind mount when the tests run as root and may mount, the
directory's write permission taken away otherwise, or (root without mount rights) every
write capped at 0 bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from search_service import config
from search_service.archive.files import Page, read_pages
from search_service.archive.warc import archive_files
from search_service.index.schema import open_index
from tests.support.drills import (
    ROOT,
    canonical_urls,
    check_index,
    child_env,
    orphan_files,
    run,
    warc_subset,
)


@pytest.fixture(scope="module")
def stories(tmp_path_factory):
    """Two WARC files of the bundled sample (10 and 30 stories) and an index of the first."""
    tmp = tmp_path_factory.mktemp("writes")
    first = warc_subset(config.SAMPLE_WARC, tmp / "first.warc.gz", 0, 10)
    more = warc_subset(config.SAMPLE_WARC, tmp / "more.warc.gz", 10, 40)
    index = tmp / "ix"
    done = run(["ingest", "--index", str(index), str(first)])
    assert done.returncode == 0, done.stderr
    return {"first": first, "more": more, "index": index}


@pytest.fixture
def index(stories, tmp_path) -> Path:
    """A private copy of the 10-story index."""
    copy = tmp_path / "ix"
    subprocess.run(["cp", "-a", str(stories["index"]), str(copy)], check=True)
    return copy


def test_disk_full_during_a_commit(stories, index):
    before = set(canonical_urls(index))
    full = run(["ingest", "--index", str(index), str(stories["more"])],
               max_file_bytes=64 * 1024)
    assert full.returncode == 1
    assert "Traceback" not in full.stderr
    assert f"news-search ingest: error: cannot write the index at {index}: File too large; " \
           "the last 30 articles were not committed (the index keeps everything committed " \
           "before)" in full.stderr
    check = check_index(index, before)
    assert check.ok and check.articles == 10, check
    assert orphan_files(index) == 0  # the failed commit's files are gone, not filling the disk
    open_index(index).writer(timeout=0.5).cancel()  # and its lock released


def test_disk_full_while_archiving_leaves_no_torn_record_mid_file(tmp_path):
    # Writes fail once a WARC file would pass 20 kB; each failed record is cut off and the
    # next write starts a new file, so every record written whole is read back.
    script = """
import sys
from pathlib import Path
from search_service.archive.warc import WarcArchive
written, failed = [], 0
with WarcArchive(Path(sys.argv[1])) as archive:
    for n in range(12):
        body = (f"<p>story {n} " + "x" * 4000 + "</p>").encode()
        try:
            archive.write_response(f"https://a.example/{n}", 200, "OK",
                                   [("Content-Type", "text/html")], body)
            written.append(n)
        except OSError:
            failed += 1
print(" ".join(map(str, written)), failed)
"""
    import resource
    import signal

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1200, 1200))

    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT,
                          env=child_env(), capture_output=True, text=True, preexec_fn=cap,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    written, failed = proc.stdout.split(" ")[:-1], int(proc.stdout.split(" ")[-1])
    assert written and failed  # some fitted, some did not
    pages = list(read_pages(archive_files(tmp_path)))
    assert all(isinstance(page, Page) for page in pages)  # nothing torn, nothing lost
    assert [page.url for page in pages] == [f"https://a.example/{n}" for n in written]


@contextmanager
def read_only(directory: Path):
    """Make `directory` read-only for the commands run meanwhile; yield run()'s extra
    arguments (a file cap of 0 bytes where nothing else can stop root)."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [directory, *directory.iterdir()]}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            yield {}
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)],
                             capture_output=True).returncode == 0
    if mounted and subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)],
                                  capture_output=True).returncode == 0:
        try:
            yield {}
        finally:  # lazily: this process may still hold index files open
            subprocess.run(["umount", "-l", str(directory)], check=True)
        return
    if mounted:
        subprocess.run(["umount", str(directory)], check=True)
    yield {"max_file_bytes": 0}


def test_read_only_index_is_a_clear_error_for_every_writing_command(stories, index):
    before = set(canonical_urls(index))
    commands = [["ingest", str(stories["more"])], ["delete", before.copy().pop()],
                ["optimize"]]
    with read_only(index) as extra:
        for argv in commands:
            done = run([argv[0], "--index", str(index), *argv[1:]], **extra)
            assert done.returncode == 1, (argv, done.stderr)
            assert "Traceback" not in done.stderr
            assert f"news-search {argv[0]}: error: cannot write the index at {index}" \
                   in done.stderr, done.stderr
        check = check_index(index, before)
        assert check.ok and check.articles == 10, check


def test_second_writer_waits_then_fails_clearly(stories, index):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from pathlib import Path\n"
         "from search_service.index.schema import open_index\n"
         "writer = open_index(Path(sys.argv[1])).writer()\n"
         "writer.add_document(id='half-written', canonical_url='half-written')\n"
         "print('holding', flush=True)\n"
         "time.sleep(60)\n", str(index)],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        second = run(["ingest", "--index", str(index), str(stories["more"])])
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 1
    assert "news-search ingest: error: the index is being written by another process " \
           "(waited 10s)" in second.stderr
    assert "Traceback" not in second.stderr
    assert waited >= 10  # it waited for the lock before giving up
    check = check_index(index, set(canonical_urls(stories["index"])))
    assert check.ok and check.articles == 10, check  # the killed holder committed nothing
    open_index(index).writer(timeout=0.5).cancel()  # the holder's lock died with it


def test_disk_full_during_a_delete_is_cleaned_up_as_a_failed_ingest_is(stories, index):
    # delete_urls ends a failed write the way flush and optimize do: the commit's files are
    # removed, the lock released, and the error says nothing was deleted.
    before = set(canonical_urls(index))
    full = run(["delete", "--index", str(index), sorted(before)[0]],
               max_file_bytes=2048)  # the error fits, the new table of contents does not
    assert full.returncode == 1
    assert "Traceback" not in full.stderr
    assert f"news-search delete: error: cannot write the index at {index}: File too large; " \
           "no article was deleted (the index keeps everything committed before)" \
           in full.stderr, full.stderr
    check = check_index(index, before)
    assert check.ok and check.articles == 10, check
    assert orphan_files(index) == 0
    open_index(index).writer(timeout=0.5).cancel()  # the lock was released
