"""Durable commits (whoosh_compat.install_durable_writes): each commit fsyncs its segment
file before the table of contents is renamed into place, then the directory;
NEWS_SEARCH_FSYNC=0 turns it off.
The real os.fsync runs; a spy around it records which file each call flushed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search_service.article import Article
from search_service.index import whoosh_compat
from search_service.index.schema import open_index
from search_service.index.writer import write_articles


@pytest.fixture
def synced(monkeypatch) -> list[str]:
    """The path of every file or directory fsynced during the test, in order."""
    calls: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return calls


def articles(n: int) -> list[Article]:
    """`n` small articles."""
    return [Article(url=f"https://news.example/{i}", canonical_url=f"https://news.example/{i}",
                    title=f"Harbour story {i}", body="The harbour reopened today. " * 20)
            for i in range(n)]


def test_a_commit_syncs_its_segment_then_its_table_of_contents(tmp_path, synced):
    ix = open_index(tmp_path / "ix", create=True)
    synced.clear()
    write_articles(ix, articles(5))
    folder = str((tmp_path / "ix").resolve())
    names = [Path(p).name if p != folder else "<dir>" for p in synced]
    segment = next(i for i, n in enumerate(names) if n.endswith(".seg"))
    toc = next(i for i, n in enumerate(names) if n.startswith("_MAIN_") and ".toc" in n)
    directory = max(i for i, n in enumerate(names) if n == "<dir>")
    assert segment < toc < directory, names
    assert not any(".tmp/" in p for p in synced)  # the writer's scratch files are not synced
    assert open_index(tmp_path / "ix").doc_count() == 5


def test_fsync_can_be_turned_off(tmp_path, synced, monkeypatch):
    monkeypatch.setenv(whoosh_compat.FSYNC_ENV, "0")
    ix = open_index(tmp_path / "ix", create=True)
    write_articles(ix, articles(5))
    assert synced == []
    assert open_index(tmp_path / "ix").doc_count() == 5
