"""Near-duplicate signatures (index/dedupe.py): the shingles and MinHash signatures stored in
the index (fingerprints, band keys) stay exactly those of the plain definition."""

from __future__ import annotations

import re
import zlib

import numpy as np
from datasketch import MinHash

from search_service.index import dedupe
from search_service.index.analysis import fold
from tests.support.corpus import distinct, stories


def plain_shingles(text: str) -> set[bytes]:
    """The definition: each run of 5 folded words, joined by a space, as UTF-8."""
    words = re.findall(r"\w+", fold(text))
    if len(words) < dedupe.SHINGLE:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i:i + dedupe.SHINGLE]).encode()
            for i in range(len(words) - dedupe.SHINGLE + 1)}


def plain_signature(text: str) -> np.ndarray | None:
    """The definition: datasketch's MinHash (affine32, seed 1) over the CRC-32 of each."""
    grams = plain_shingles(text)
    if not grams:
        return None
    minhash = MinHash(num_perm=dedupe.NUM_PERM, seed=dedupe.SEED,
                      hashfunc=lambda data: zlib.crc32(data), scheme="affine32")
    for gram in grams:
        minhash.update(gram)
    return minhash.hashvalues.astype(np.uint32)


TEXTS = ["", "   ", "one", "Zwei Wörter", "one two three four", "one two three four five",
         "Él dijo «café» — naïve façade, 東京 2026; one two three four five six",
         "the the the the the the the the"]


def test_shingles_and_signatures_are_those_of_the_definition():
    texts = TEXTS + [s["title"] + "\n" + s["body"] for s in stories()[:300]]
    texts += [a.title + "\n" + a.body for a in distinct(200, seed=3)]
    for text in texts:
        assert dedupe.shingles(text) == plain_shingles(text), text
        got, want = dedupe.signature(text), plain_signature(text)
        if want is None:
            assert got is None, text
        else:
            assert got.dtype == np.uint32 and got.tolist() == want.tolist(), text


def test_a_near_copy_shares_a_band_and_an_unrelated_story_does_not():
    story = stories()[10]
    text = story["title"] + "\n" + story["body"]
    copy = text + "\nReporting by a wire desk."
    other = stories()[11]
    a, b = dedupe.signature(text), dedupe.signature(copy)
    c = dedupe.signature(other["title"] + "\n" + other["body"])
    assert dedupe.is_near_duplicate(a, b) and not dedupe.is_near_duplicate(a, c)
    assert set(dedupe.band_keys(a)) & set(dedupe.band_keys(b))
    assert dedupe.decode(dedupe.encode(a)).tolist() == a.tolist()
