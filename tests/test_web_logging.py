"""web/logging.py: the access line, and its time formatted as logging's own Formatter does."""

from __future__ import annotations

import io
import logging
import re

from search_service.web.logging import AccessFormatter, AccessLog, enable_access_log, log


def record_at(created: float) -> logging.LogRecord:
    """A record made at the epoch time `created`."""
    record = logging.LogRecord("search_service.access", logging.INFO, __file__, 1, "x %s",
                               ("y",), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_access_formatter_writes_what_logging_formatter_writes():
    ours, theirs = AccessFormatter("%(asctime)s %(message)s"), logging.Formatter(
        "%(asctime)s %(message)s")
    for created in (1764675685.0, 1764675685.123, 1764675685.999, 1764675686.5, 1764675685.25,
                    0.5, 1900000000.001):
        assert ours.format(record_at(created)) == theirs.format(record_at(created))
    assert ours.formatTime(record_at(1.5), "%Y") == theirs.formatTime(record_at(1.5), "%Y")


def test_access_log_writes_one_line_per_request(app):
    stream = io.StringIO()
    saved = log.handlers[:], log.level, log.propagate
    enable_access_log(stream)
    try:
        wrapped = AccessLog(app)
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/health", "QUERY_STRING": "x=1",
                   "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost",
                   "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(b""), "SERVER_PROTOCOL": "HTTP/1.1"}
        sent = b"".join(wrapped(environ, lambda status, headers, exc_info=None: None))
    finally:
        log.handlers[:], log.level, log.propagate = saved
    line = stream.getvalue()
    assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} 127\.0\.0\.1 '
                        rf'"GET /api/health\?x=1" 200 {len(sent)} [\d.]+ms\n', line), line
