"""Every use of waitress's private API, in one place (as index/whoosh_compat.py is for Whoosh).

Verified against waitress 3.0 (setup.cfg allows >=3.0,<4):

- `channel_map`: the server's socket map (`server._map`), which holds the listening socket and
  every open connection; graceful stop (serving.py) takes the connections already waiting,
  waits for those in flight and closes the rest, and waitress has no public way to list them.
"""

from __future__ import annotations

from typing import Any


def channel_map(server: Any) -> dict:
    """The waitress server's map of file descriptors to its channels (`_map`)."""
    return server._map
