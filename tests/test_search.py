"""Search, filters, sorting, collapsing, highlighting, facets and related articles on a real
Whoosh index (the small WARC of wire stories plus the fixture pages)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from search_service.article import article_id
from search_service.search.articles import get_article, related
from search_service.search.engine import search
from search_service.search.facets import histogram
from search_service.search.params import NotFound, QueryError, SearchParams, dates_param
from tests.support.paths import SEED_URL

HOSTILE_ID = article_id("https://hostile.example/news/oil-gas")
SEED_ID = article_id(SEED_URL)
TWIN_ID = article_id("https://balticwire.example/2023/07/nato-ukraine")


def without_timing(data: dict) -> dict:
    """Drop the one field that varies between runs."""
    assert data.pop("took_ms") >= 0
    return data


def ids(data: dict) -> list[str]:
    """The result ids of a search."""
    return [r["id"] for r in data["results"]]


def test_highlights_are_escaped_page_text_with_only_mark_added(searcher):
    data = without_timing(search(searcher, q="oil"))
    assert data["total"] == 2
    assert data["results"][0] == {
        "id": HOSTILE_ID,
        "url": "https://hostile.example/news/oil-gas",
        "title": "Oil & gas: <script>alert(1)</script> prices",
        "title_html": "<mark>Oil</mark> &amp; gas: &lt;script&gt;alert(1)&lt;/script&gt; prices",
        "snippet_html": "Traders said <mark>oil</mark> &amp; gas prices rose after a report that "
                        "… that shows this text. Analysts expect <mark>oil</mark> demand to keep "
                        "rising through the …",
        "published": "2023-07-12T09:00:00+00:00",
        "source": "Hostile <b>Herald</b>",
        "similar_count": 0,
    }


def test_phrase_query_matches_and_marks_only_the_phrase(searcher):
    data = search(searcher, q='"run hard"')
    assert ids(data) == [HOSTILE_ID]
    assert data["results"][0]["snippet_html"] == (
        "… through the summer as refineries &#34;<mark>run</mark> <mark>hard</mark>&#34; "
        "&amp; stocks fall, according to people …")
    assert data["results"][0]["title_html"] == (
        "Oil &amp; gas: &lt;script&gt;alert(1)&lt;/script&gt; prices")


def test_stemming_finds_other_forms(searcher):
    singular = set(ids(search(searcher, q="guarantee", per_page=100)))
    plural = set(ids(search(searcher, q="guarantees", per_page=100)))
    assert singular == plural
    assert SEED_ID in singular


def test_default_operator_is_and(searcher):
    assert search(searcher, q="nato vilnius")["total"] == 1  # the seed and its copy: one hit
    assert search(searcher, q="nato opec")["total"] == 0
    either = search(searcher, q="nato OR opec")["total"]
    assert either == search(searcher, q="nato")["total"] + search(searcher, q="opec")["total"]


def test_title_field_and_not(searcher):
    titles = [r["title"] for r in search(searcher, q="title:opec", per_page=100)["results"]]
    assert titles and all("OPEC" in t for t in titles)
    assert search(searcher, q="nato NOT vilnius")["total"] == 0


def test_source_and_author_fields(searcher):
    assert ids(search(searcher, q="source:herald oil")) == [HOSTILE_ID]
    assert ids(search(searcher, q="source:hostile.example")) == [HOSTILE_ID]
    assert ids(search(searcher, q="author:kowalska")) == [SEED_ID]


def test_wildcards_need_three_leading_characters(searcher):
    assert SEED_ID in ids(search(searcher, q="guarant*"))
    with pytest.raises(QueryError, match="wildcards need at least 3 leading characters: 'gu"):
        search(searcher, q="gu*")
    with pytest.raises(QueryError, match="wildcards need at least 3 leading characters"):
        search(searcher, q="*nato")


def test_fuzzy_terms(searcher):
    assert search(searcher, q="natto")["total"] == 0
    assert ids(search(searcher, q="natto~")) == [SEED_ID]


def test_fuzzy_prefix_longer_than_the_word_is_the_whole_word(searcher):
    # `0~/2` raised IndexError inside Whoosh's automaton (a 500, found by the hostile fuzz)
    assert ids(search(searcher, q="natto~/9")) == ids(search(searcher, q="natto~/5")) == []
    assert search(searcher, q="0~/2")["total"] >= 0


def test_near_duplicates_collapse_into_one_hit_with_a_count(searcher):
    data = search(searcher, q="vilnius")
    assert [(r["id"], r["similar_count"]) for r in data["results"]] == [(SEED_ID, 1)]
    assert get_article(searcher, TWIN_ID)["original_id"] == SEED_ID
    assert get_article(searcher, SEED_ID)["original_id"] is None


def test_title_match_ranks_above_body_match(searcher):
    results = search(searcher, q="oil", sort="relevance")["results"]
    assert results[0]["id"] == HOSTILE_ID  # "Oil" in the title, twice in the body


@pytest.mark.parametrize("sort, reverse", [("newest", True), ("oldest", False)])
def test_date_sorts(searcher, sort, reverse):
    results = search(searcher, q="said", sort=sort, per_page=100)["results"]
    dates = [r["published"] for r in results]
    assert len(dates) > 10
    assert dates == sorted(dates, reverse=reverse)


def test_best_sort_puts_the_newest_comparable_story_first(searcher):
    # "said" matches 1987 wire stories and the 2023 fixture pages. The first four by
    # relevance score within 5% of each other: `best` shows the newest of them first. The
    # 2023 hostile page scores 40% lower than those: newer than every wire story, it may
    # pass the comparable ones of its own band, never them (tests/test_ranking.py).
    relevance = search(searcher, q="said", sort="relevance", per_page=100)["results"]
    best = search(searcher, q="said", sort="best", per_page=100)["results"]
    assert best[0] == max(relevance[:4], key=lambda r: r["published"]) != relevance[0]
    assert 4 < [r["id"] for r in best].index(HOSTILE_ID) <= [r["id"] for r in relevance].index(
        HOSTILE_ID)
    assert sorted(r["id"] for r in best) == sorted(r["id"] for r in relevance)


def test_date_source_and_language_filters(searcher):
    assert ids(search(searcher, q="", date_from=datetime(2023, 7, 11, tzinfo=timezone.utc))) == [
        HOSTILE_ID]
    july = SearchParams(q="", date_from=dates_param("from", "2023-07"),
                        date_to=dates_param("to", "2023-07"))
    assert sorted(ids(search(searcher, july))) == sorted([HOSTILE_ID, SEED_ID])
    assert ids(search(searcher, q="", sources=("Baltic Wire",))) == [TWIN_ID]
    assert search(searcher, q="said", sources=("wireledger.example",))["total"] == 21
    assert search(searcher, q="said", sources=("The Wire Ledger", "Hostile <b>Herald</b>"))[
        "total"] == 22
    assert search(searcher, q="", lang="fr")["total"] == 0
    assert search(searcher, q="", lang="en")["total"] == 26


def test_relative_dates_count_back_from_now():
    now = datetime(2023, 7, 15, 12, tzinfo=timezone.utc)
    assert dates_param("from", "last week", now) == datetime(2023, 7, 8, 12, tzinfo=timezone.utc)
    assert dates_param("from", "past 24 hours", now) == datetime(2023, 7, 14, 12,
                                                                 tzinfo=timezone.utc)
    assert dates_param("to", "2023", now) == datetime(2023, 12, 31, 23, 59, 59, 999999,
                                                      tzinfo=timezone.utc)
    with pytest.raises(QueryError, match="from: cannot read date 'soon'"):
        dates_param("from", "soon", now)


def test_facets_count_sources_and_bucket_dates(searcher):
    data = search(searcher, q="nato OR oil", facets=True)
    assert data["facets"]["sources"] == [
        {"source": "Baltic Wire", "count": 1},
        {"source": "Hostile <b>Herald</b>", "count": 1},
        {"source": "Northern Dispatch", "count": 1},
        {"source": "The Wire Ledger", "count": 1},
    ]
    assert data["facets"]["dates"]["bucket"] == "year"
    counts = data["facets"]["dates"]["counts"]
    assert (counts[0], counts[-1], len(counts)) == (
        {"start": "1987-01-01", "end": "1987-12-31", "count": 1},
        {"start": "2023-01-01", "end": "2023-12-31", "count": 3}, 37)


def test_histogram_bucket_follows_the_span():
    days = {datetime(2023, 7, 10): 2, datetime(2023, 7, 12): 1}
    assert histogram(days) == {"bucket": "day", "counts": [
        {"start": "2023-07-10", "end": "2023-07-10", "count": 2},
        {"start": "2023-07-11", "end": "2023-07-11", "count": 0},
        {"start": "2023-07-12", "end": "2023-07-12", "count": 1}]}
    weeks = {datetime(2023, 7, 10): 1, datetime(2023, 9, 1): 1}
    assert histogram(weeks)["bucket"] == "week"
    assert histogram({datetime(2020, 1, 5): 1, datetime(2023, 1, 1): 1})["bucket"] == "month"
    assert histogram({}) == {"bucket": None, "counts": []}


def test_did_you_mean(searcher):
    data = search(searcher, q="ukrane guarantees")
    assert (data["total"], data["suggestion"]) == (0, "ukraine guarantees")
    assert search(searcher, q="ukraine")["suggestion"] is None


@pytest.mark.parametrize("one_pass_below", [0, 10**6])
def test_time_limit_returns_partial_results(searcher, one_pass_below, monkeypatch):
    from search_service.search import engine as search_module

    monkeypatch.setattr(search_module, "ONE_PASS_BELOW", one_pass_below)
    data = search(searcher, q="said", time_limit=0.0)
    assert data["partial"] is True
    assert search(searcher, q="said")["partial"] is False


def test_pages_partition_the_results(searcher):
    everything = ids(search(searcher, q="said", per_page=100))
    paged = [i for page in (1, 2, 3) for i in ids(search(searcher, q="said", page=page,
                                                         per_page=5))]
    assert paged == everything[:15]


def test_empty_query_lists_everything_newest_first(searcher):
    data = search(searcher, q="", per_page=3)
    assert data["total"] == 26  # 27 articles, the seed's copy collapsed
    assert data["sort"] == "newest"
    assert data["results"][0]["id"] == HOSTILE_ID
    assert data["results"][0]["snippet_html"].startswith("Traders said oil &amp; gas")


@pytest.mark.parametrize("q, message", [
    ("((((", "cannot parse query '((((': it has no searchable words"),
    ("the", "cannot parse query 'the': it has no searchable words"),
    ("published:[yesterday TO today]", "cannot parse query 'published:[yesterday TO today]'"),
    ("x" * 1001, "query too long (1001 characters, at most 1000)"),
])
def test_bad_queries_raise_query_error(searcher, q, message):
    with pytest.raises(QueryError) as err:
        search(searcher, q=q)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("kwargs, message", [
    ({"page": 0}, "page must be between 1 and 1000"),
    ({"per_page": 101}, "per_page must be between 1 and 100"),
    ({"sort": "random"}, "sort must be one of: best, relevance, newest, oldest"),
    ({"date_from": datetime(2023, 2, 1), "date_to": datetime(2023, 1, 1)},
     "from must not be after to"),
])
def test_bad_parameters_raise_query_error(searcher, kwargs, message):
    with pytest.raises(QueryError, match=message):
        search(searcher, q="oil", **kwargs)


def test_related_excludes_the_article_and_its_copies(searcher):
    results = related(searcher, SEED_ID, limit=5)["results"]
    assert len(results) == 5
    assert not {SEED_ID, TWIN_ID} & {r["id"] for r in results}
    assert {TWIN_ID, SEED_ID}.isdisjoint(r["id"] for r in related(searcher, TWIN_ID)["results"])


def test_related_of_an_oil_story_is_about_oil(searcher):
    opec = search(searcher, q="title:opec")["results"][0]
    titles = [r["title"] for r in related(searcher, opec["id"], limit=3)["results"]]
    assert len(titles) == 3
    assert opec["title"] not in titles


def test_unknown_article_raises_not_found(searcher):
    with pytest.raises(NotFound, match="no article with id 'nope'"):
        get_article(searcher, "nope")
    with pytest.raises(NotFound):
        related(searcher, "nope")


def test_get_article_returns_paragraphs(searcher):
    article = get_article(searcher, SEED_ID)
    assert article["title"].startswith("NATO and Ukraine")
    assert article["authors"] == ["Marta Kowalska", "Jonas Petrauskas"]
    assert article["host"] == "dispatch.example"
    assert len(article["paragraphs"]) == 6
    assert article["paragraphs"][0].startswith("In recent remarks attributed")


#: A time limit no search of the small index reaches, even on a loaded machine: with the
#: default 2 s, a search stalled that long (a loaded shared CI box) answers partial, a
#: partial answer is rightly not cached, and the cache test failed under load.
UNHURRIED = 120.0


def test_results_cache_answers_repeats_and_forgets_on_commit(ix):
    from search_service.article import Article
    from search_service.index.writer import write_articles
    from search_service.search.engine import ResultsCache, Searchers

    cache, searchers = ResultsCache(size=2), Searchers(ix)
    params = SearchParams(q="zeppelin", time_limit=UNHURRIED)
    first = cache.search(searchers.get(), params)
    assert not first["partial"]
    assert first["total"] == 0 and params in cache.entries
    assert cache.search(searchers.get(), params) == first
    write_articles(ix, [Article(url="https://late.example/z", canonical_url="https://late.example/z",
                                title="Zeppelin returns", body="An airship flew over. " * 12)])
    assert cache.search(searchers.get(), params)["total"] == 1
    for q in ("oil", "nato", "said"):
        assert not cache.search(searchers.get(), SearchParams(q=q, time_limit=UNHURRIED))[
            "partial"]
    assert len(cache.entries) == 2


def test_results_cache_keeps_no_partial_answer(ix):
    from search_service.search.engine import ResultsCache, Searchers

    cache, searchers = ResultsCache(), Searchers(ix)
    params = SearchParams(q="said", time_limit=0.0)  # what a stalled search answers
    assert cache.search(searchers.get(), params)["partial"]
    assert params not in cache.entries


@pytest.fixture(scope="module")
def wire_searcher(tmp_path_factory):
    """A searcher over 600 seeded synthetic stories (enough for Whoosh to skip blocks)."""
    import random

    from search_service.article import Article
    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles

    rng = random.Random(7)
    words = ["oil", "prices", "bank", "rates", "grain", "wheat", "shares", "profit", "said",
             "market", "trade", "crude", "export", "dollar", "tonnes", "company"]
    stories = []
    for i in range(600):
        body = " ".join(rng.choice(words) + f" w{rng.randrange(5000)}" for _ in range(60))
        stories.append(Article(url=f"https://s.example/{i}", canonical_url=f"https://s.example/{i}",
                               title=" ".join(rng.sample(words, 3)), body=body))
    ix = open_index(tmp_path_factory.mktemp("wire"), create=True)
    write_articles(ix, stories)
    with ix.searcher() as searcher:
        yield searcher


@pytest.mark.parametrize("q", ["oil", "oil OR bank", "crude prices"])
@pytest.mark.parametrize("one_pass_below", [0, 10**6])
def test_total_counts_every_match_whatever_the_page_size(wire_searcher, q, one_pass_below,
                                                         monkeypatch):
    from search_service.search import engine as search_module

    monkeypatch.setattr(search_module, "ONE_PASS_BELOW", one_pass_below)
    # Regression: Whoosh's top-N collector skipped matches once its heap was full, so
    # totals shrank with per_page.
    everything = search(wire_searcher, q=q, per_page=100, sort="relevance", page=1)
    for sort in ("relevance", "best", "newest"):
        assert search(wire_searcher, q=q, per_page=1, sort=sort)["total"] == everything["total"]
    assert everything["total"] > 100
    facets = search(wire_searcher, q=q, per_page=1, facets=True)["facets"]
    assert sum(c["count"] for c in facets["dates"]["counts"]) == 0  # undated stories
    assert facets["sources"] == [{"source": "s.example", "count": everything["total"]}]


@pytest.fixture(scope="module")
def dated_searcher(tmp_path_factory):
    """30 'grain' stories, number i published 2024-03-(1+i) 12:00 UTC except every fifth
    (i % 5 == 4: undated), in two segments."""
    import random

    from search_service.article import Article
    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles

    rng = random.Random(3)
    words = [f"w{n}" for n in range(3000)]
    ix = open_index(tmp_path_factory.mktemp("dated"), create=True)
    stories = [Article(url=f"https://d.example/{i}", canonical_url=f"https://d.example/{i}",
                       title=f"Grain report {i}",
                       body="Grain shipments: " + " ".join(rng.sample(words, 40)),
                       published=None if i % 5 == 4 else
                       datetime(2024, 3, 1, 12, tzinfo=timezone.utc) + timedelta(days=i))
               for i in range(30)]
    write_articles(ix, stories[:15])
    write_articles(ix, stories[15:])
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 2
        yield searcher


@pytest.mark.parametrize(("start", "end", "expected"), [
    # inclusive bounds to the microsecond; undated stories never match a date filter
    (datetime(2024, 3, 3, 12, tzinfo=timezone.utc), datetime(2024, 3, 6, 12, tzinfo=timezone.utc),
     [2, 3, 5]),
    (datetime(2024, 3, 28, 12, tzinfo=timezone.utc), None, [27, 28]),
    (None, datetime(2024, 3, 2, 11, tzinfo=timezone.utc), [0]),
    (datetime(2024, 3, 15, tzinfo=timezone.utc), datetime(2024, 3, 21, tzinfo=timezone.utc),
     [15, 16, 17, 18]),
])
def test_date_filter_on_a_text_query_matches_the_listing_filter(dated_searcher, start, end,
                                                                expected):
    from search_service.article import article_id

    want = sorted(article_id(f"https://d.example/{i}") for i in expected)
    text = search(dated_searcher, q="grain", date_from=start, date_to=end, per_page=100)
    listing = search(dated_searcher, q="", date_from=start, date_to=end, per_page=100)
    assert sorted(ids(text)) == want
    assert sorted(ids(listing)) == want
    assert text["total"] == len(expected)


@pytest.fixture(scope="module")
def copies_searcher(tmp_path_factory):
    """400 seeded stories, every tenth republished twice (near-duplicates), in 3 segments."""
    import random

    from search_service.article import Article
    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles

    rng = random.Random(11)
    words = ["oil", "prices", "bank", "rates", "grain", "wheat", "shares", "profit"]
    stories = []
    for i in range(400):
        body = " ".join(rng.choice(words) + f" w{rng.randrange(9000)}" for _ in range(50))
        stories.append(Article(url=f"https://a.example/{i}", canonical_url=f"https://a.example/{i}",
                               title=" ".join(rng.sample(words, 3)), body=body))
        if i % 10 == 0:
            stories += [Article(url=f"https://{site}.example/{i}",
                                canonical_url=f"https://{site}.example/{i}",
                                title=stories[-1].title, body=body + f" ({site})")
                        for site in ("b", "c")]
    ix = open_index(tmp_path_factory.mktemp("copies"), create=True)
    for part in range(3):
        write_articles(ix, stories[part::3])
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 3
        yield searcher


@pytest.mark.parametrize("q", ["oil", "oil OR bank", "grain prices", ""])
@pytest.mark.parametrize("sort", ["relevance", "best", "newest"])
@pytest.mark.parametrize("passes", ["one pass", "count, then rank"])
def test_totals_pages_and_copies_agree_with_every_match(copies_searcher, q, sort, passes,
                                                         monkeypatch):
    from search_service.search import engine as search_module
    from search_service.search.parse import parse_query

    if passes == "count, then rank":
        monkeypatch.setattr(search_module, "ONE_PASS_BELOW", 0)
    searcher = copies_searcher
    clusters: dict[str, list[str]] = {}
    for docnum in searcher.docs_for_query(parse_query(searcher, q)):
        fields = searcher.stored_fields(docnum)
        clusters.setdefault(fields["cluster"], []).append(fields["id"])
    assert sum(len(m) > 1 for m in clusters.values()) >= 5  # copies are in play
    first = search(searcher, q=q, sort=sort, per_page=25)
    assert first["total"] == len(clusters)
    shown = []
    for page in range(1, -(-first["total"] // 25) + 1):
        data = search(searcher, q=q, sort=sort, per_page=25, page=page)
        assert data["total"] == len(clusters)
        for item in data["results"]:
            cluster = searcher.stored_fields(searcher.document_number(id=item["id"]))["cluster"]
            assert item["similar_count"] == len(clusters[cluster]) - 1
            shown.append(cluster)
    assert sorted(shown) == sorted(clusters)  # every story once, one hit per group


def test_date_filter_over_segments_without_dates_finds_nothing(copies_searcher):
    since = datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert search(copies_searcher, q="oil", date_from=since)["total"] == 0
    assert search(copies_searcher, q="", date_from=since)["total"] == 0


@pytest.fixture(scope="module")
def syndicated_searcher(tmp_path_factory):
    """30 stories, each published on 5 sites word for word (one near-duplicate group each),
    story i mentioning 'grain' i+1 times so that stories rank apart and copies together."""
    from search_service.article import Article
    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles

    articles = []
    for i in range(30):
        body = " ".join(["grain"] * (i + 1) + [f"story{i} filler{i} words{i} here{i}"] * 12)
        articles += [Article(url=f"https://s{site}.example/{i}",
                             canonical_url=f"https://s{site}.example/{i}",
                             title=f"Report {i}", body=body) for site in range(5)]
    ix = open_index(tmp_path_factory.mktemp("syndicated"), create=True)
    write_articles(ix, articles)
    with ix.searcher() as searcher:
        yield searcher


@pytest.mark.parametrize("sort", ["relevance", "best"])
def test_pages_of_syndicated_stories_show_each_story_once(syndicated_searcher, sort,
                                                          monkeypatch):
    # Copies rank together, so the first hits hold few stories: the ranking must widen
    # until a page is full, and agree with ranking every match.
    from search_service.search import engine as search_module

    pages = {}
    for one_pass_below in (0, 10**6):
        monkeypatch.setattr(search_module, "ONE_PASS_BELOW", one_pass_below)
        pages[one_pass_below] = [search(syndicated_searcher, q="grain", sort=sort, per_page=10,
                                        page=p) for p in (1, 2, 3)]
    for data in pages[0]:
        assert data["total"] == 30
        assert len(data["results"]) == 10
        assert {r["similar_count"] for r in data["results"]} == {4}
    titles = [r["title"] for data in pages[0] for r in data["results"]]
    assert sorted(titles) == sorted(f"Report {i}" for i in range(30))
    assert titles == [r["title"] for data in pages[10**6] for r in data["results"]]


def late_story(n: int):
    """An article for a commit made during a test."""
    from search_service.article import Article

    url = f"https://late.example/{n}"
    return Article(url=url, canonical_url=url, title=f"Zeppelin {n} returns",
                   body="An airship flew over the harbour. " * 12)


class FrozenStat:
    """A directory stat that never changes (a file system stamping with a coarse clock, or
    not keeping a directory's times current), taken once from the real directory."""

    def __init__(self, path):
        import os
        from types import SimpleNamespace

        real = os.stat(path)
        self.result = SimpleNamespace(st_dev=real.st_dev, st_ino=real.st_ino,
                                      st_mtime_ns=real.st_mtime_ns, st_ctime_ns=real.st_ctime_ns)

    def __call__(self, path):
        return self.result


def test_commit_watch_lists_the_directory_only_after_it_changes(ix, index_dir):
    import os

    from search_service.index.writer import write_articles
    from search_service.search.engine import CommitWatch

    changed = os.stat(index_dir).st_ctime
    watch = CommitWatch(ix, settle=3.0, max_age=3600, clock=lambda: changed + 10)
    first = watch.latest_generation()
    assert (first, watch.listings) == (ix.latest_generation(), 1)
    assert (watch.latest_generation(), watch.listings) == (first, 1)  # the stat alone
    write_articles(ix, [late_story(1)])  # a new _MAIN_<n>.toc renamed into the directory
    assert watch.latest_generation() == ix.latest_generation() > first
    assert watch.listings == 2


def test_commit_watch_sees_a_commit_stamped_in_the_tick_of_the_last_listing(ix, index_dir):
    from search_service.index.writer import write_articles
    from search_service.search.engine import CommitWatch

    stat = FrozenStat(index_dir)  # the commit below leaves the directory's times as they were
    stamped = stat.result.st_ctime_ns / 1e9
    watch = CommitWatch(ix, settle=3.0, max_age=3600, stat=stat, clock=lambda: stamped + 0.5)
    first = watch.latest_generation()
    write_articles(ix, [late_story(1)])
    # listed less than `settle` after the directory's last change: not reused
    assert watch.latest_generation() == ix.latest_generation() > first
    assert watch.listings == 2


def test_commit_watch_lists_again_after_max_age_whatever_the_stat_says(ix, index_dir):
    from search_service.index.writer import write_articles
    from search_service.search.engine import CommitWatch

    stat = FrozenStat(index_dir)
    now = [stat.result.st_ctime_ns / 1e9 + 10]
    watch = CommitWatch(ix, settle=3.0, max_age=1.0, stat=stat, clock=lambda: now[0])
    first = watch.latest_generation()
    write_articles(ix, [late_story(1)])
    assert (watch.latest_generation(), watch.listings) == (first, 1)  # trusted, within max_age
    now[0] += 1.0
    assert watch.latest_generation() == ix.latest_generation() > first
    assert watch.listings == 2


def test_commit_watch_sees_a_directory_renamed_over_the_index(ix, index_dir):
    import shutil

    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles
    from search_service.search.engine import CommitWatch, Searchers

    searchers = Searchers(ix, CommitWatch(ix, settle=0.0, max_age=3600))
    before = searchers.get()
    assert searchers.get() is before
    generation, count = before.reader().generation(), before.doc_count()
    replacement = index_dir.with_name("replacement")
    shutil.copytree(index_dir, replacement)
    other = open_index(replacement)
    write_articles(other, [late_story(1)])
    write_articles(other, [late_story(2)])
    expected = other.latest_generation()
    index_dir.rename(index_dir.with_name("retired"))
    replacement.rename(index_dir)  # the new index takes the old one's path
    after = searchers.get()
    assert after.reader().generation() == expected > generation
    assert after.doc_count() == count + 2


def test_searchers_open_a_fresh_searcher_on_the_request_after_a_commit(ix):
    from search_service.index.writer import write_articles
    from search_service.search.engine import Searchers

    searchers = Searchers(ix)  # the defaults serve uses
    first = searchers.get()
    for n in range(1, 4):  # commits in quick succession, each seen by the next get()
        write_articles(ix, [late_story(n)])
        current = searchers.get()
        assert current.reader().generation() == ix.latest_generation()
        assert current.doc_count() == first.doc_count() + n
