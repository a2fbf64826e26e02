"""Test and benchmark support: what both `tests/` and `benchmarks/` use, and nothing else.

Test modules and benchmarks import from here only, never from each other:

- `paths`: the repository root, the test fixtures, the shared real data (`../shared/data`);
- `servers`: free loopback ports, polling, `news-search serve` started as a subprocess;
- `news_site`: the fixture news site served over real HTTP on 127.0.0.1;
- `redis_server`: a fresh redis-server on a free loopback port;
- `shared`: read-only inputs built once per test run, shared by pytest-xdist's workers;
- `hostile`: generators of hostile pages and queries, and the known worst pages;
- `drills`, `killpoint`: crash drills (SIGKILL a command, or kill it at a named point);
- `requires`: tests that need an outside program (chromium, redis-server) skip without it,
  or fail when `NEWS_SEARCH_REQUIRE_TOOLS` is set (as `.ci/run` does).
"""
