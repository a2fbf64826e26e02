"""docs/cli.md is the parser's own --help: it fails here when the two drift apart."""

from __future__ import annotations

import os

from scripts import cli_docs
from search_service.cli import build_parser
from tests.support.paths import ROOT


def test_cli_md_matches_the_parser():
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == cli_docs.render(), "docs/cli.md is out of date: python -m scripts.cli_docs"


def test_cli_md_has_every_command_and_option():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    subcommands = cli_docs.commands(parser)
    assert list(subcommands) == ["ingest", "delete", "optimize", "crawl", "index-worker",
                                 "reindex", "extract", "serve", "demo", "stats", "export",
                                 "timeline", "compare", "terms"]
    for name, sub in subcommands.items():
        assert f"\n## {name}\n\n```text\nusage: news-search {name} " in text
        for action in sub._actions:
            for option in action.option_strings:
                assert option in text, (name, option)


def test_render_hides_environment_defaults(monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_CONTACT", "https://private.example/me")
    monkeypatch.setenv("COLUMNS", "40")
    text = cli_docs.render()
    assert "private.example" not in text
    assert ("(default: $NEWS_SEARCH_CONTACT or https://pypi.org/project/news-search/)"
            in " ".join(text.split()))
    assert os.environ["COLUMNS"] == "40"  # restored afterwards


def test_check_reports_drift(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text("# old\n")
    monkeypatch.setattr(cli_docs, "TARGET", stale)
    monkeypatch.setattr(cli_docs, "ROOT", tmp_path)
    assert cli_docs.main(["--check"]) == 1
    assert "cli.md is out of date: run python -m scripts.cli_docs" in capsys.readouterr().err
    assert cli_docs.main([]) == 0
    assert cli_docs.main(["--check"]) == 0
    assert stale.read_text() == cli_docs.render()
