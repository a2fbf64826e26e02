"""Run a `news-search` command that SIGKILLs itself at a chosen point, for crash drills.

    python -m tests.support.killpoint POINT N -- COMMAND ARGS...

POINT says where the process dies, at the Nth time it gets there (N from 1):

- `segments`: an index commit has written its new segment files but no table of contents;
- `toc`: an index commit has written its new table of contents to a temporary file, just
  before the rename that makes the commit visible;
- `warc`: a WARC record is half written to the archive (and flushed), as a kill or a full
  disk leaves it;
- `swap`: `reindex` has moved the old index aside and not yet moved the new one in.

The points are patched in from here (test code), so the product carries no kill hooks. The
crawl's indexer is a separate (spawned) process without these patches: `segments` and `toc`
reach ingest and reindex only; a crawl is killed at random moments instead.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

POINTS = ("segments", "toc", "warc", "swap")


def die() -> None:
    """SIGKILL this process: no handler, no flush, no cleanup runs."""
    os.kill(os.getpid(), signal.SIGKILL)


class Countdown:
    """Calls `die` the `n`th time it is ticked."""

    def __init__(self, n: int):
        self.left = n

    def tick(self) -> bool:
        """Count one arrival; return True on the fatal one."""
        self.left -= 1
        return self.left == 0


def install(point: str, n: int) -> None:
    """Patch the kill point `point` in, to fire on its `n`th arrival."""
    countdown = Countdown(n)
    if point == "segments":
        from whoosh.writing import SegmentWriter

        original_toc = SegmentWriter._commit_toc

        def commit_toc(self, segments):
            if countdown.tick():
                die()
            return original_toc(self, segments)

        SegmentWriter._commit_toc = commit_toc
    elif point == "toc":
        from whoosh.filedb.filestore import FileStorage

        original_rename = FileStorage.rename_file

        def rename_file(self, source, target, safe=False):
            if target.endswith(".toc") and countdown.tick():
                die()
            return original_rename(self, source, target, safe)

        FileStorage.rename_file = rename_file
    elif point == "warc":
        from warcio.warcwriter import WARCWriter

        original_write = WARCWriter.write_record

        def write_record(self, record, params=None):
            if not countdown.tick():
                return original_write(self, record, params)
            held = Held()
            self._write_warc_record(held, record)
            data = held.data()
            self.out.write(data[: len(data) // 2])
            self.out.flush()
            die()

        WARCWriter.write_record = write_record
    elif point == "swap":
        original_path_rename = Path.rename

        def rename(self, target):
            result = original_path_rename(self, target)
            if Path(target).name.endswith(".old") and countdown.tick():
                die()
            return result

        Path.rename = rename
    else:
        raise SystemExit(f"unknown kill point {point!r} (one of {', '.join(POINTS)})")


class Held:
    """A write-only stream that keeps what is written (a record, before it is torn)."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def data(self) -> bytes:
        return b"".join(self.parts)


def main(argv: list[str]) -> int:
    """Install the kill point, then run the command."""
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit(__doc__)
    install(argv[0], int(argv[1]))
    from search_service.cli import main as cli_main

    return cli_main(argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
