"""How the index's files are read and written: reading segments without copying them, and
durable commits (fsync).

Whoosh stores each segment as one compound file, memory-maps it, and hands out each part
(postings, terms, stored fields, columns) as a `BufferFile` over a slice of the map. Its
`BufferFile` also wraps that slice in `io.BytesIO(slice)`, and BytesIO copies what it is given
when that is not a `bytes` object. So every searcher copied the whole index into private memory
when it opened (and again for each changed segment after a commit): about 600 MB per
searcher for 100,000 articles, and `serve` keeps one searcher per thread.

`install()` makes `BufferFile` read a memory-mapped slice through a buffered reader over the
map instead, so all searchers in all threads and processes share the operating system's
page cache. Slices that are already `bytes` keep BytesIO, which does not copy those.

Whoosh never fsyncs: after a power cut, a commit it reported done can be missing, or worse, a
table of contents can name segment data that never reached the disk. `install()` also makes
every file Whoosh writes in an index directory flushed to disk (fsync) when it is closed, and
the directory itself after each rename, so that the segment files are durable before the new
table of contents is renamed into place, and the table of contents right after. Files of a
writer's temporary storage (the `*.tmp` folders) are not synced. Set NEWS_SEARCH_FSYNC=0 to
turn it off (faster commits, at the price of that risk; docs/operations.md has the cost).
"""

from __future__ import annotations

import io
import os

from whoosh.filedb import filestore, structfile

#: The setting that turns fsync at commit off ("0", "false", "no", "off").
FSYNC_ENV = "NEWS_SEARCH_FSYNC"

#: Bytes each reader buffers for Whoosh's small sequential reads (varints, headers).
READ_BUFFER = 4096


class MappedSlice(io.RawIOBase):
    """A read-only, seekable raw file over a memoryview (no copy of the data)."""

    def __init__(self, view: memoryview):
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), len(self._view) - self._pos))
        buffer[:count] = self._view[self._pos:self._pos + count]
        self._pos += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def _buffer_file_init(self, buf, name=None, onclose=None) -> None:
    """`BufferFile.__init__` reading a memoryview in place instead of copying it."""
    self._buf = buf
    self._name = name
    if isinstance(buf, memoryview):
        self.file = io.BufferedReader(MappedSlice(buf), buffer_size=READ_BUFFER)
    else:
        self.file = io.BytesIO(buf)
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


def durable() -> bool:
    """Whether commits are fsynced (NEWS_SEARCH_FSYNC, on unless set to 0/false/no/off)."""
    return os.environ.get(FSYNC_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def fsync_directory(folder: str) -> None:
    """Flush a directory's entries (new and renamed files) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_create_file = filestore.FileStorage.create_file
_rename_file = filestore.FileStorage.rename_file


def _synced_create_file(self, name, excl=False, mode="wb", **kwargs):
    """`FileStorage.create_file` whose file is fsynced when closed (see the module doc)."""
    created = _create_file(self, name, excl=excl, mode=mode, **kwargs)
    if durable() and not str(self.folder).endswith(".tmp"):
        previous = created.onclose

        def sync(sfile) -> None:
            if previous is not None:
                previous(sfile)
            sfile.file.flush()
            os.fsync(sfile.file.fileno())

        created.onclose = sync
    return created


def _synced_rename_file(self, oldname, newname, safe=False):
    """`FileStorage.rename_file`, then an fsync of the directory."""
    _rename_file(self, oldname, newname, safe=safe)
    if durable() and not str(self.folder).endswith(".tmp"):
        fsync_directory(self.folder)


def install() -> None:
    """Make Whoosh's BufferFile read memory-mapped segment files without copying them, and
    its file storage fsync what it writes (unless NEWS_SEARCH_FSYNC is off)."""
    structfile.BufferFile.__init__ = _buffer_file_init
    filestore.FileStorage.create_file = _synced_create_file
    filestore.FileStorage.rename_file = _synced_rename_file
