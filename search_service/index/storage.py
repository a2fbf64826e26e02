"""Reading index files without copying them: a fix for how Whoosh opens compound segments.

Whoosh stores each segment as one compound file, memory-maps it, and hands out each part
(postings, terms, stored fields, columns) as a `BufferFile` over a slice of the map. Its
`BufferFile` also wraps that slice in `io.BytesIO(slice)`, and BytesIO copies what it is given
when that is not a `bytes` object. So every searcher copied the whole index into private memory
when it opened (and again for each changed segment after a commit): about 600 MB per
searcher for 100,000 articles, and `serve` keeps one searcher per thread.

`install()` makes `BufferFile` read a memory-mapped slice through a buffered reader over the
map instead, so all searchers in all threads and processes share the operating system's
page cache. Slices that are already `bytes` keep BytesIO, which does not copy those.
"""

from __future__ import annotations

import io
import os

from whoosh.filedb import structfile

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


def install() -> None:
    """Make Whoosh's BufferFile read memory-mapped segment files without copying them."""
    structfile.BufferFile.__init__ = _buffer_file_init
