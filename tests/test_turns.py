"""Search turns (web/turns.py): with SEARCH_SLOTS=N one process runs at most N searches at
once, the others wait their turn; views that are not counted (health, exports, research)
never wait; a failed search gives its turn back; a bad setting is refused."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from search_service import search
from search_service.web import create_app


class Gate:
    """Wraps the real `ResultsCache.search`: counts the searches inside it at once; each
    waits until `together` are inside, and while `held` is set, until `opened` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, together: int = 1):
        self.lock = threading.Condition()
        self.inside = self.most = 0
        self.entered = threading.Event()
        self.held = threading.Event()  # set: searches wait at the gate
        self.opened = threading.Event()
        real = search.ResultsCache.search

        def counted(cache, searcher, params):
            with self.lock:
                self.inside += 1
                self.most = max(self.most, self.inside)
                self.lock.notify_all()
                # wait for `together` searches inside at once (a guard, not a limit), so
                # that the count does not hang on how the threads happen to be scheduled
                self.lock.wait_for(lambda: self.inside >= together, timeout=5)
            self.entered.set()
            try:
                if self.held.is_set():
                    assert self.opened.wait(30), "the test never opened the gate"
                else:
                    time.sleep(0.05)  # room for a search past the limit to come in
                return real(cache, searcher, params)
            finally:
                with self.lock:
                    self.inside -= 1

        monkeypatch.setattr(search.ResultsCache, "search", counted)


def get_all(app, urls: list[str]) -> list[int]:
    """GET every URL from its own thread at once; the status codes, in order."""
    codes = [0] * len(urls)

    def get(i: int) -> None:
        codes[i] = app.test_client().get(urls[i]).status_code

    threads = [threading.Thread(target=get, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return codes


@pytest.mark.parametrize(("slots", "most"), [(1, 1), (2, 2), (0, 6)])
def test_slots_bound_the_searches_in_flight(index_dir, monkeypatch, slots, most):
    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True, "SEARCH_SLOTS": slots})
    gate = Gate(monkeypatch, together=most)
    words = ["nato", "market", "oil", "police", "minister", "vote"]
    codes = get_all(app, [f"/api/search?q={w}" for w in words])
    assert codes == [200] * 6
    assert gate.most == most


def test_uncounted_views_do_not_wait_for_a_turn(index_dir, monkeypatch):
    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True, "SEARCH_SLOTS": 1})
    gate = Gate(monkeypatch)
    gate.held.set()
    holder = threading.Thread(target=get_all, args=(app, ["/api/search?q=nato"]))
    holder.start()
    assert gate.entered.wait(30)
    waiting: list[int] = []
    second = threading.Thread(target=lambda: waiting.extend(get_all(app, ["/?q=oil"])))
    second.start()
    client = app.test_client()
    try:
        # the turn is taken: the search page waits, the rest answers
        assert client.get("/api/health").status_code == 200
        export = client.get("/api/export?q=nato&format=jsonl")
        assert export.status_code == 200 and export.data
        assert client.get("/api/timeline?q=nato").status_code == 200
        second.join(0.3)
        assert second.is_alive() and not waiting
    finally:
        gate.opened.set()
    holder.join(30)
    second.join(30)
    assert waiting == [200]
    assert gate.most == 1


def test_a_failed_search_gives_its_turn_back(index_dir):
    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True, "SEARCH_SLOTS": 1})
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/search?q=nato&per_page=0").status_code == 400
        assert client.get("/api/articles/no-such-id").status_code == 404
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.extend(get_all(app, ["/api/search?q=oil"])))
    thread.start()
    thread.join(30)
    assert done == [200], "a turn was never given back"


def test_bad_slot_settings_are_refused(index_dir, monkeypatch):
    with pytest.raises(ValueError, match="SEARCH_SLOTS"):
        create_app({"INDEX_DIR": str(index_dir), "SEARCH_SLOTS": -1})
    monkeypatch.setenv("NEWS_SEARCH_SEARCH_SLOTS", "many")
    with pytest.raises(ValueError, match=r"\$NEWS_SEARCH_SEARCH_SLOTS must be"):
        create_app({"INDEX_DIR": str(index_dir)})
    run = subprocess.run([sys.executable, "-m", "search_service.cli", "serve", "--index",
                          str(index_dir), "--search-slots", "-1"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--search-slots" in run.stderr
