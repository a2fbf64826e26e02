"""Related articles from a sidecar of article vectors kept beside the Whoosh index.

This module owns the sidecar file `<index>/related.npz`: building it from the index's own
body postings (the terms the index already analysed, so nothing is re-analysed), writing it
atomically and tagged with the index state it was built from, loading it once per process
(again when the file changes), and answering "related to article X" from it.

Vectors: for each live article, term weight = (1 + ln tf) · idf over the body, idf =
ln((N + 1) / (df + 1)); terms in fewer than MIN_DF articles or more than MAX_DF of them are
dropped; each vector keeps its DOC_TERMS heaviest terms and is L2-normalised. LSA: a seeded
randomized SVD of that matrix gives each article LSA_DIMS coordinates, L2-normalised.

Lookup: the TF-IDF cosine of the source with every article, reading only the postings of
the source's QUERY_TERMS heaviest terms (the inverted matrix); its best CANDIDATES are then
ranked by (1 − LSA_WEIGHT) · cos_tfidf + LSA_WEIGHT · cos_lsa. Articles in the source's
near-duplicate cluster are excluded, one article per cluster is kept, and every result is
checked against the live index, so deleted articles are never returned. With `recency`,
a candidate's score is multiplied by 1 + RECENCY_WEIGHT · 2^(−Δ / HALF_LIFE_DAYS), Δ the
days between the two articles' publication dates (no boost when either date is unknown).

Titles are left out: on Reuters, adding them lowered precision@5 (docs/related-articles.md).
A sidecar that does not know the source article (added after the build) or holds an older
text of it answers None, and the caller falls back to Whoosh's more_like.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from whoosh import index as whoosh_index
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search_service.index import whoosh_compat

log = logging.getLogger(__name__)

FILENAME = "related.npz"
#: Bumped when the file layout or the weighting changes (an older file is rebuilt).
FORMAT = 2
#: Articles added or changed since the last full build, as a share of that build's articles,
#: beyond which the sidecar is built whole again (its idf and LSA basis are that old).
FOLD_SHARE = 0.25
FIELD = "body"
MIN_DF = 2
MAX_DF = 0.5
DOC_TERMS = 100
QUERY_TERMS = 40
LSA_DIMS = 64
LSA_WEIGHT = 0.6
LSA_SEED = 1987
CANDIDATES = 1000
RECENCY_WEIGHT = 0.5
HALF_LIFE_DAYS = 7.0
#: The sidecar's epoch seconds for an undated article (not the index's NO_DATE column value).
NO_DATE_SECONDS = np.iinfo(np.int64).min


# -- the index state a sidecar belongs to ------------------------------------------------------

def index_tag(reader: IndexReader) -> str:
    """Name the index state `reader` sees: its generation, segments and their deletions."""
    parts = []
    for leaf, _ in reader.leaf_readers():
        segment = leaf.segment() if hasattr(leaf, "segment") else None
        if segment is not None:  # an index without commits reads as one EmptyReader
            parts.append(f"{segment.segment_id()}-{segment.deleted_count()}")
    return f"{reader.generation()}:{','.join(parts)}"


def text_digest(fields: dict[str, Any]) -> int:
    """A 63-bit digest of an article's title and body (tells a changed text)."""
    text = (fields.get("title") or "") + "\0" + (fields.get("body") or "")
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "little") >> 1


def _epoch_seconds(value: datetime | None) -> int:
    if value is None:
        return int(NO_DATE_SECONDS)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


# -- building ----------------------------------------------------------------------------------

def _postings(leaves: list[tuple[IndexReader, int]],
              field: str) -> Iterator[tuple[bytes, np.ndarray, np.ndarray]]:
    """Yield (term, docnums, term counts) for every term of `field` in each (leaf reader,
    docnum offset) of `leaves`, deleted articles included (the caller drops them)."""
    for leaf, offset in leaves:
        for text, info in leaf.iter_field(field):
            if info.is_inlined():
                ids, weights, _ = info.inlined_postings()
                yield text, np.asarray(ids, np.int64) + offset, np.asarray(weights, np.float32)
                continue
            # Whoosh's own reader for the postings this term info points at, read a block
            # at a time (an order of magnitude faster than posting by posting).
            blocks = whoosh_compat.block_postings(leaf, field, info)
            if blocks is not None:
                yield text, blocks[0] + offset, blocks[1]
            else:
                items = list(leaf.postings(field, text).items_as("weight"))
                yield (text, np.array([i for i, _ in items], np.int64) + offset,
                       np.array([w for _, w in items], np.float32))


def idf_of(counts: sp.csr_matrix) -> np.ndarray:
    """Each term's idf over article × term `counts`, 0 for terms too rare or too common."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((n + 1) / (df + 1)).astype(np.float32)
    idf[(df < MIN_DF) | (df > MAX_DF * n)] = 0
    return idf


def weigh(counts: sp.csr_matrix, idf: np.ndarray | None = None) -> sp.csr_matrix:
    """Turn article × term counts into pruned, L2-normalised TF-IDF rows (see module doc),
    with the idf of these counts or the given one."""
    if idf is None:
        idf = idf_of(counts)
    x = counts.astype(np.float32, copy=True)
    x.data = (1 + np.log(x.data)) * idf[x.indices]
    x.eliminate_zeros()
    x = _keep_heaviest(x, DOC_TERMS)
    return _unit_rows(x)


def _unit_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row to length 1 (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    x = sp.csr_matrix(sp.diags(1 / norms).dot(x), dtype=np.float32)
    x.sort_indices()
    return x


def _keep_heaviest(x: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep each row's `k` largest entries."""
    lengths = np.diff(x.indptr)
    if lengths.max(initial=0) <= k:
        return x
    keep = np.ones(x.nnz, dtype=bool)
    for row in np.nonzero(lengths > k)[0]:
        start, end = x.indptr[row], x.indptr[row + 1]
        drop = np.argpartition(x.data[start:end], end - start - k)[:end - start - k]
        keep[start + drop] = False
    rows = np.repeat(np.arange(x.shape[0]), lengths)[keep]
    return sp.csr_matrix((x.data[keep], (rows, x.indices[keep])), shape=x.shape)


def lsa(x: sp.csr_matrix, dims: int = LSA_DIMS, seed: int = LSA_SEED) -> np.ndarray:
    """Each row's L2-normalised coordinates on the `dims` leading singular directions of `x`
    (randomized SVD: Halko, Martinsson and Tropp, 2011, with two power iterations)."""
    return lsa_basis(x, dims, seed)[0]


def project(x: sp.csr_matrix, basis: np.ndarray) -> np.ndarray:
    """L2-normalised LSA coordinates of new rows `x` on a basis from `lsa_basis` (folding in:
    for the rows it was computed from, x · basis is what `lsa` gives before normalising)."""
    if basis.shape[1] == 0:
        return np.zeros((x.shape[0], 0), dtype=np.float32)
    coords = np.asarray(x.dot(basis))
    norms = np.linalg.norm(coords, axis=1, keepdims=True)
    return (coords / np.maximum(norms, 1e-12)).astype(np.float32)


def lsa_basis(x: sp.csr_matrix, dims: int = LSA_DIMS,
              seed: int = LSA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """`lsa`'s coordinates, and the term × dims basis (the right singular vectors) that
    projects new rows into the same space."""
    dims = min(dims, min(x.shape) - 1)
    if dims < 1:
        return (np.zeros((x.shape[0], 0), dtype=np.float32),
                np.zeros((x.shape[1], 0), dtype=np.float32))
    rng = np.random.default_rng(seed)
    sample = x.dot(rng.standard_normal((x.shape[1], dims + 10)).astype(np.float32))
    for _ in range(2):
        sample, _ = np.linalg.qr(sample)
        sample = x.dot(x.T.dot(sample))
    basis, _ = np.linalg.qr(sample)
    small = np.asarray(x.T.dot(basis)).T
    left, singular, right = np.linalg.svd(small, full_matrices=False)
    coords = (basis @ left[:, :dims]) * singular[:dims]
    norms = np.linalg.norm(coords, axis=1, keepdims=True)
    return ((coords / np.maximum(norms, 1e-12)).astype(np.float32),
            right[:dims].T.astype(np.float32))


@dataclass
class Built:
    """What a build produced: articles, terms kept, seconds taken, bytes on disk."""

    articles: int
    terms: int
    seconds: float
    size: int


def build(ix: whoosh_index.Index, path: Path) -> Built:
    """Build the sidecar for the index `ix` (at `path`) and replace the old one atomically."""
    started = time.perf_counter()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        tag = index_tag(reader)
        segments = _segment_ids(reader)
        total = reader.doc_count_all()
        vocab: dict[bytes, int] = {}
        rows, cols, vals = [], [], []
        for text, docnums, weights in _postings(list(reader.leaf_readers()), FIELD):
            col = vocab.setdefault(text, len(vocab))
            rows.append(docnums)
            cols.append(np.full(len(docnums), col, dtype=np.int64))
            vals.append(weights)
        terms = len(vocab)
        live = np.array([not reader.is_deleted(d) for d in range(total)], dtype=bool)
        about = _about(reader, np.nonzero(live)[0].tolist())
    counts = sp.csr_matrix((_concat(vals, np.float32),
                            (_concat(rows, np.int64), _concat(cols, np.int64))),
                           shape=(total, terms))[live]
    counts.sum_duplicates()  # a term in several segments
    idf = idf_of(counts)
    vectors = weigh(counts, idf)
    coords, basis = lsa_basis(vectors)
    names: dict[str, int] = {}
    cluster_codes = np.array([names.setdefault(c, len(names)) for c in about["clusters"]],
                             dtype=np.int32)
    _write(Path(path), tag=tag, segments=segments, ids=about["ids"], clusters=cluster_codes,
           cluster_names=list(names), published=about["published"], digests=about["digests"],
           vectors=vectors, coords=coords, terms=list(vocab), idf=idf, basis=basis,
           base=len(about["ids"]), changed=0)
    return Built(articles=len(about["ids"]),
                 terms=int((np.diff(vectors.tocsc().indptr) > 0).sum()),
                 seconds=time.perf_counter() - started,
                 size=(Path(path) / FILENAME).stat().st_size)


def _segment_ids(reader: IndexReader) -> list[str]:
    """The ids of the segments `reader` reads."""
    ids = []
    for leaf, _ in reader.leaf_readers():
        segment = leaf.segment() if hasattr(leaf, "segment") else None
        if segment is not None:
            ids.append(segment.segment_id())
    return ids


def _about(reader: IndexReader, docnums: list[int]) -> dict[str, list]:
    """Each article's id, cluster, publication time and text digest, for `docnums`."""
    about: dict[str, list] = {"ids": [], "clusters": [], "published": [], "digests": []}
    for docnum in docnums:
        fields = reader.stored_fields(docnum)
        about["ids"].append(fields["id"])
        about["clusters"].append(fields.get("cluster") or fields["id"])
        about["published"].append(_epoch_seconds(fields.get("published")))
        about["digests"].append(text_digest(fields))
    return about


def _write(path: Path, *, tag: str, segments: list[str], ids: list[str], clusters: np.ndarray,
           cluster_names: list[str], published: list[int], digests: list[int],
           vectors: sp.csr_matrix, coords: np.ndarray, terms: list[bytes], idf: np.ndarray,
           basis: np.ndarray, base: int, changed: int) -> None:
    """Write the sidecar file atomically (a staging file renamed over the old one)."""
    target = path / FILENAME
    staging = target.with_name(f".{FILENAME}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(staging, "wb") as out:
            np.savez(out, format=np.array(FORMAT), tag=np.array(tag),
                     segments=np.array(segments, dtype=str),
                     ids=np.array(ids, dtype=str), clusters=clusters,
                     cluster_names=np.array(cluster_names, dtype=str),
                     published=np.array(published, dtype=np.int64),
                     digests=np.array(digests, dtype=np.int64),
                     data=vectors.data.astype(np.float32),
                     indices=vectors.indices.astype(np.int32),
                     indptr=vectors.indptr.astype(np.int64),
                     shape=np.array(vectors.shape, dtype=np.int64), lsa=coords,
                     terms=np.array(terms, dtype=bytes), idf=idf, basis=basis,
                     base=np.array(base), changed=np.array(changed))
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def fold_in(ix: whoosh_index.Index, path: Path) -> Built | None:
    """Bring the sidecar up to date incrementally: add the articles of the segments it has not
    read (new ones, or merged ones, whose articles it already holds with the same text are
    kept as they are), weighed with the idf and projected on the LSA basis of its last full
    build. Returns None without writing when the changes since that build exceed FOLD_SHARE
    of its articles (the caller then builds it whole)."""
    started = time.perf_counter()
    target = Path(path) / FILENAME
    with np.load(target) as data:
        old = {key: data[key] for key in data.files}
    known = set(old["segments"].tolist())
    row_of = {article_id: row for row, article_id in enumerate(old["ids"].tolist())}
    with ix.searcher() as searcher:
        reader = searcher.reader()
        tag = index_tag(reader)
        leaves = [(leaf, offset) for leaf, offset in reader.leaf_readers()
                  if hasattr(leaf, "segment") and leaf.segment().segment_id() not in known]
        candidates = [offset + d for leaf, offset in leaves
                      for d in range(leaf.doc_count_all()) if not leaf.is_deleted(d)]
        about = _about(reader, candidates)
        names = {name: code for code, name in enumerate(old["cluster_names"].tolist())}

        def same(i: int) -> bool:  # held as it is: same text, date and cluster
            row = row_of.get(about["ids"][i])
            return row is not None and (
                int(old["digests"][row]) == about["digests"][i]
                and int(old["published"][row]) == about["published"][i]
                and names.get(about["clusters"][i]) == int(old["clusters"][row]))

        fresh = [i for i in range(len(candidates)) if not same(i)]
        changed = int(old["changed"]) + len(fresh)
        if changed > FOLD_SHARE * max(int(old["base"]), 1):
            return None
        vocab = {term: col for col, term in enumerate(old["terms"].tolist())}
        rows, cols, vals = [], [], []
        for text, docnums, weights in _postings(leaves, FIELD):
            col = vocab.get(text)
            if col is not None:
                rows.append(docnums)
                cols.append(np.full(len(docnums), col, dtype=np.int64))
                vals.append(weights)
        segments = _segment_ids(reader)
        total = reader.doc_count_all()
    picked = np.array([candidates[i] for i in fresh], dtype=np.int64)
    counts = sp.csr_matrix((_concat(vals, np.float32),
                            (_concat(rows, np.int64), _concat(cols, np.int64))),
                           shape=(total, len(vocab)))[picked]
    counts.sum_duplicates()
    new_vectors = weigh(counts, old["idf"])
    new_coords = project(new_vectors, old["basis"])
    replaced = {row_of[about["ids"][i]] for i in fresh if about["ids"][i] in row_of}
    keep = np.array([row not in replaced for row in range(len(old["ids"]))], dtype=bool)
    new_clusters = [names.setdefault(about["clusters"][i], len(names)) for i in fresh]
    vectors = sp.csr_matrix((old["data"], old["indices"], old["indptr"]),
                            shape=tuple(int(n) for n in old["shape"]))
    vectors = sp.vstack([vectors[keep], new_vectors], format="csr")
    _write(Path(path), tag=tag, segments=segments,
           ids=old["ids"][keep].tolist() + [about["ids"][i] for i in fresh],
           clusters=np.concatenate([old["clusters"][keep],
                                    np.array(new_clusters, dtype=np.int32)]),
           cluster_names=list(names),
           published=old["published"][keep].tolist() + [about["published"][i] for i in fresh],
           digests=old["digests"][keep].tolist() + [about["digests"][i] for i in fresh],
           vectors=vectors, coords=np.concatenate([old["lsa"][keep], new_coords]),
           terms=old["terms"].tolist(), idf=old["idf"], basis=old["basis"],
           base=int(old["base"]), changed=changed)
    return Built(articles=int(keep.sum()) + len(fresh), terms=len(vocab),
                 seconds=time.perf_counter() - started, size=target.stat().st_size)


def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def stored_tag(path: Path) -> str | None:
    """The index tag the sidecar at `path` was built from (None if none, or unreadable)."""
    try:
        with np.load(Path(path) / FILENAME) as data:
            if int(data["format"]) != FORMAT:
                return None
            return str(data["tag"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def refresh(path: Path, ix: whoosh_index.Index | None = None) -> Built | None:
    """Bring the sidecar of the index at `path` up to date, by folding in what changed when
    it can (see `fold_in`), else whole; None when it already was."""
    ix = ix or whoosh_index.open_dir(str(path))
    with ix.searcher() as searcher:
        current = index_tag(searcher.reader())
    stored = stored_tag(path)
    if stored == current:
        return None
    if stored is not None:
        try:
            built = fold_in(ix, path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("cannot fold new articles into the related-articles sidecar (%s); "
                        "rebuilding it", exc)
            built = None
        if built is not None:
            return built
    return build(ix, path)


# -- serving -----------------------------------------------------------------------------------

class Sidecar:
    """A loaded sidecar: article vectors (by row and inverted), their LSA coordinates, and
    each row's article id, cluster, publication time and text digest."""

    def __init__(self, data: Any):
        self.tag = str(data["tag"])
        self.ids = data["ids"]
        self.row_of = {article_id: row for row, article_id in enumerate(self.ids.tolist())}
        self.clusters = data["clusters"]
        self.published = data["published"]
        self.digests = data["digests"]
        shape = tuple(int(n) for n in data["shape"])
        self.vectors = sp.csr_matrix((data["data"], data["indices"], data["indptr"]),
                                     shape=shape)
        #: term × article: row t lists the articles holding term t (the postings)
        self.inverted = self.vectors.T.tocsr()
        self.lsa = data["lsa"]

    def __len__(self) -> int:
        return len(self.ids)

    def cosines(self, row: int) -> np.ndarray:
        """TF-IDF cosine of article `row` with every article, from the postings of its
        QUERY_TERMS heaviest terms."""
        start, end = self.vectors.indptr[row], self.vectors.indptr[row + 1]
        terms, weights = self.vectors.indices[start:end], self.vectors.data[start:end]
        if len(terms) > QUERY_TERMS:
            keep = np.argpartition(weights, len(terms) - QUERY_TERMS)[-QUERY_TERMS:]
            terms, weights = terms[keep], weights[keep]
        postings = self.inverted
        spans = [(postings.indptr[t], postings.indptr[t + 1]) for t in terms.tolist()]
        if not spans:
            return np.zeros(len(self), dtype=np.float64)
        docs = np.concatenate([postings.indices[a:b] for a, b in spans])
        values = np.concatenate([postings.data[a:b] * w
                                 for (a, b), w in zip(spans, weights.tolist(), strict=True)])
        return np.bincount(docs, weights=values, minlength=len(self))

    def ranked(self, row: int, recency: bool = False) -> Iterator[int]:
        """Rows by similarity to `row`, best first, outside its cluster, one per cluster (see
        the module doc)."""
        cosine = self.cosines(row)
        cosine[self.clusters == self.clusters[row]] = -np.inf
        top = _top(cosine, CANDIDATES)
        blended = (1 - LSA_WEIGHT) * cosine[top]
        if self.lsa.shape[1]:
            blended += LSA_WEIGHT * self.lsa[top].dot(self.lsa[row])
        if recency:
            blended = np.maximum(blended, 0) * (1 + self._nearness(row, top))
        yield from self._first_of_each_cluster(top[np.argsort(-blended, kind="stable")])
        if len(top) == CANDIDATES:  # more wanted (many deleted or one cluster): the rest
            cosine[top] = -np.inf
            rest = np.argsort(-cosine, kind="stable")
            yield from self._first_of_each_cluster(rest[np.isfinite(cosine[rest])])

    def _first_of_each_cluster(self, rows: np.ndarray) -> Iterator[int]:
        """`rows` in order, skipping those whose cluster (as built) came earlier (the caller
        checks again against the live index, where a cluster may have changed)."""
        seen: set[int] = set()
        for row, cluster in zip(rows.tolist(), self.clusters[rows].tolist(), strict=True):
            if cluster not in seen:
                seen.add(cluster)
                yield row

    def _nearness(self, row: int, rows: np.ndarray) -> np.ndarray:
        """RECENCY_WEIGHT · 2^(−Δdays / HALF_LIFE_DAYS) for each of `rows` (0: date unknown)."""
        mine = self.published[row]
        theirs = self.published[rows]
        days = np.abs(theirs - mine) / 86400.0
        known = (theirs != NO_DATE_SECONDS) & (mine != NO_DATE_SECONDS)
        return np.where(known, RECENCY_WEIGHT * np.power(2.0, -days / HALF_LIFE_DAYS), 0.0)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` highest finite scores, best first."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(scores, len(scores) - k)[-k:]
    top = top[np.lexsort((top, -scores[top]))]  # ties: the earlier row (indexed first)
    return top[np.isfinite(scores[top])]


_loaded: dict[Path, tuple[tuple[int, int], Sidecar | None]] = {}
_lock = threading.Lock()


def load(path: Path) -> Sidecar | None:
    """The sidecar of the index at `path` (cached until the file changes), or None."""
    target = Path(path) / FILENAME
    try:
        stat = target.stat()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _loaded.get(target)
    if cached and cached[0] == stamp:
        return cached[1]
    with _lock:
        cached = _loaded.get(target)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            with np.load(target) as data:
                side = Sidecar(data) if int(data["format"]) == FORMAT else None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("related-articles sidecar %s unreadable (%s); using more_like", target,
                        exc)
            side = None
        _loaded[target] = (stamp, side)
        return side


def index_dir(searcher: Searcher) -> Path | None:
    """The directory of the index `searcher` reads (None for an in-memory index)."""
    ix = whoosh_compat.index_of(searcher)
    folder = getattr(getattr(ix, "storage", None), "folder", None)
    return Path(folder) if folder else None


def lookup(searcher: Searcher, fields: dict[str, Any], limit: int,
           recency: bool = False) -> list[dict[str, Any]] | None:
    """Stored fields of up to `limit` articles related to the article with `fields`, or None
    when the sidecar cannot answer for it (missing, or built before this text)."""
    folder = index_dir(searcher)
    side = load(folder) if folder else None
    if side is None:
        return None
    row = side.row_of.get(fields["id"])
    if row is None or int(side.digests[row]) != text_digest(fields):
        return None
    own_cluster = fields.get("cluster") or fields["id"]
    seen = {own_cluster}
    found = []
    for candidate in side.ranked(row, recency):
        docnum = searcher.document_number(id=str(side.ids[candidate]))
        if docnum is None:
            continue  # deleted since the build
        stored = searcher.stored_fields(docnum)
        cluster = stored.get("cluster") or stored["id"]
        if cluster in seen:
            continue
        seen.add(cluster)
        found.append(stored)
        if len(found) == limit:
            break
    return found


class StoredHit:
    """Stored fields dressed as a hit, for the result shape's `hit.fields()`."""

    def __init__(self, fields: dict[str, Any]):
        self._fields = fields

    def fields(self) -> dict[str, Any]:
        """The article's stored fields."""
        return self._fields


class Refresher:
    """Keeps the sidecar of a growing index current while a writer runs (the index-worker,
    `crawl --watch`): `poke()` after each commit; a thread of its own then brings the sidecar
    up to date (`refresh`: new articles folded in, a full build now and then), at most once
    every `every` seconds. A new article is served from the sidecar at most `every` seconds
    plus one refresh after its commit. `articles` is how many articles the sidecar knew after
    the last refresh (None before the first); `on_refresh` is called after each one."""

    def __init__(self, ix: whoosh_index.Index, every: float = 60.0,
                 on_refresh: Callable[[], None] | None = None):
        self.ix = ix
        self.every = every
        self.on_refresh = on_refresh
        self.articles: int | None = None
        self.dirty = threading.Event()
        self.stopped = threading.Event()
        self.stopping = False
        self.builds = 0
        self.thread = threading.Thread(target=self._run, name="related-refresh", daemon=True)
        self.thread.start()

    def poke(self) -> None:
        """Note that the index changed (the refresh follows within `every` seconds)."""
        self.dirty.set()

    def _run(self) -> None:
        last = -float("inf")
        while True:
            self.dirty.wait()
            wait = last + self.every - time.monotonic()
            if self.stopping or (wait > 0 and self.stopped.wait(min(wait, self.every))):
                return  # the writer stopping refreshes the sidecar itself if it needs to
            self.dirty.clear()
            last = time.monotonic()
            try:
                count = self.ix.doc_count()  # what an up-to-date sidecar knows at least
                built = refresh(Path(self.ix.storage.folder), self.ix)
            except Exception:  # a failed refresh keeps the old sidecar; the next poke retries
                log.exception("related-articles sidecar refresh failed")
                continue
            self.articles = built.articles if built else count
            if self.on_refresh is not None:
                self.on_refresh()
            if built:
                self.builds += 1
                log.info("related-articles sidecar: %d articles in %.1fs", built.articles,
                         built.seconds)

    def close(self) -> None:
        """Stop the thread (a refresh in progress finishes first)."""
        self.stopping = True
        self.stopped.set()
        self.dirty.set()
        self.thread.join()
