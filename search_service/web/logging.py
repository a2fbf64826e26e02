"""One log line per request (method, path, status, bytes, milliseconds), for `serve`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("search_service.access")


class AccessFormatter(logging.Formatter):
    """logging's Formatter, remembering the formatted second of `asctime` (a request's line
    formatted the time with `strftime` each time; the lines of one second share it)."""

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        """The record's time as logging's default format writes it (`2026-12-02 11:41:25,123`)."""
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime(self.default_time_format,
                                                           self.converter(second)))
        return self.default_msec_format % (cached[1], record.msecs)


def enable_access_log(stream=None) -> None:
    """Send access lines to stderr (or `stream`), whatever the root logger's level."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter("%(asctime)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


class AccessLog:
    """WSGI middleware that logs each request when its response is complete."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status_line = ["-"]

        def recording_start(status: str, headers, exc_info=None):
            status_line[0] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        sent = 0
        body = self.app(environ, recording_start)
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()
            path = environ.get("PATH_INFO", "")
            query = environ.get("QUERY_STRING", "")
            log.info('%s "%s %s%s" %s %d %.1fms', environ.get("REMOTE_ADDR", "-"),
                     environ.get("REQUEST_METHOD", "-"), path, f"?{query}" if query else "",
                     status_line[0], sent, (time.perf_counter() - started) * 1000)
