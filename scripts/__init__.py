"""Maintenance scripts, run from the repository root as `python -m scripts.NAME`: `make_sample`
(builds the bundled sample), `cli_docs` (writes docs/cli.md from the parser)."""
