"""whoosh_compat.install_mapped_reads: segment files are read in place from the memory map,
not copied per searcher, and reading them that way gives the same bytes as reading a private
copy."""

from __future__ import annotations

import io
import random
import tracemalloc
from pathlib import Path

from whoosh.filedb.structfile import BufferFile
from whoosh.query import Term

from search_service.article import Article
from search_service.index.schema import open_index
from search_service.index.writer import write_articles


def test_a_mapped_slice_reads_like_a_copy():
    data = random.Random(7).randbytes(50_000) + b"line one\nline two\n"
    mapped, copied = BufferFile(memoryview(data)), BufferFile(bytes(data))
    assert not isinstance(mapped.file, io.BytesIO)
    rng = random.Random(11)
    for _ in range(300):
        position, count = rng.randrange(len(data) - 64), rng.randrange(1, 40)
        mapped.seek(position)
        copied.seek(position)
        assert mapped.read(count) == copied.read(count) == data[position:position + count]
        assert mapped.tell() == copied.tell() == position + count
    for f in (mapped, copied):
        f.seek(1234)
    assert [mapped.read_varint() for _ in range(50)] == [copied.read_varint() for _ in range(50)]
    assert mapped.tell() == copied.tell()
    mapped.seek(-18, io.SEEK_END)
    copied.seek(-18, io.SEEK_END)
    assert mapped.readline() == copied.readline() == b"line one\n"
    assert mapped.read() == copied.read() == b"line two\n"
    assert mapped.get(100, 30) == copied.get(100, 30) == data[100:130]


def test_opening_a_searcher_does_not_copy_the_index(tmp_path: Path):
    rng = random.Random(3)
    words = [f"word{i}" for i in range(3000)]
    articles = [Article(url=f"https://a.example/{n}", canonical_url=f"https://a.example/{n}",
                        title=" ".join(rng.choices(words, k=6)),
                        body=" ".join(rng.choices(words, k=400)))
                for n in range(400)]
    ix = open_index(tmp_path / "ix", create=True)
    write_articles(ix, articles, batch=1000)
    (segment_file,) = (tmp_path / "ix").glob("*.seg")
    size = segment_file.stat().st_size
    assert size > 1_000_000

    tracemalloc.start()
    try:
        with ix.searcher() as searcher:
            hits = searcher.search(Term("body", "word7"), limit=5)
            assert hits.scored_length() == 5 and hits[0]["title"]
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Whoosh's own BufferFile copied every part of the segment (peak above `size`).
    assert peak < size / 4, (peak, size)
