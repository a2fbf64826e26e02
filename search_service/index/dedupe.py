"""Near-duplicate detection: MinHash signatures over word shingles, banded for lookup.

Two articles are near-duplicates when the estimated Jaccard similarity of their sets of
word 5-shingles is at least `THRESHOLD`. The 64 MinHash values are cut into 8 bands of 8
(a pair at similarity 0.8 shares a band with probability 0.77, at 0.9 with 0.99);
articles that share any band are candidates (the band keys are indexed as terms), and a
candidate is confirmed by comparing the full signatures.
"""

from __future__ import annotations

import re
import zlib
from functools import cache

import numpy as np
from datasketch import MinHash

from search_service.index.analysis import fold

NUM_PERM = 64
BANDS = 8
ROWS = NUM_PERM // BANDS
SHINGLE = 5
THRESHOLD = 0.8
#: A fixed seed so signatures are comparable across processes and runs.
SEED = 1


#: A stable 32-bit hash of one shingle (the C function itself: no Python call per shingle).
_hash = zlib.crc32


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The MinHash permutations for SEED, made once per process."""
    return MinHash(num_perm=NUM_PERM, seed=SEED).permutations


def shingles(text: str) -> set[bytes]:
    """Return the set of word 5-shingles of `text` (folded), or of its words if shorter."""
    words = [word.encode() for word in re.findall(r"\w+", fold(text))]
    if len(words) < SHINGLE:
        return {b" ".join(words)} if words else set()
    # the i-th word of every shingle at once (the shorter tails end the zip: False on purpose)
    return set(map(b" ".join, zip(*(words[i:] for i in range(SHINGLE)), strict=False)))


def signature(text: str) -> np.ndarray | None:
    """Return the MinHash signature of `text`, or None if it has no words."""
    grams = shingles(text)
    if not grams:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=_hash,
                      permutations=_permutations(), scheme="affine32")
    minhash.update_batch(list(grams))
    return minhash.hashvalues.astype(np.uint32)


def encode(sig: np.ndarray) -> str:
    """Encode a signature as a hex string (for storing)."""
    return sig.astype(">u4").tobytes().hex()


def decode(text: str) -> np.ndarray:
    """Decode a signature stored by `encode`."""
    return np.frombuffer(bytes.fromhex(text), dtype=">u4").astype(np.uint32)


def band_keys(sig: np.ndarray) -> list[str]:
    """Return one lookup key per band: band number and the band's hash."""
    rows = sig.reshape(BANDS, ROWS)
    return [f"{i}_{zlib.crc32(band.tobytes()):08x}" for i, band in enumerate(rows)]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimate the Jaccard similarity of the texts behind two signatures."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def is_near_duplicate(a: np.ndarray, b: np.ndarray) -> bool:
    """Tell whether two signatures are near-duplicates."""
    return similarity(a, b) >= THRESHOLD
