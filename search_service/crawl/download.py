"""Downloading: separate connect and read timeouts, and pages cut at the size limit.

Scrapy has one timeout (`DOWNLOAD_TIMEOUT`), which it also uses as the TCP connect timeout,
and it cancels a response bigger than `DOWNLOAD_MAXSIZE`. `NewsDownloadHandler` is Scrapy's
HTTP/1.1 handler with two changes:

- connecting is bounded by its own `NEWS_CONNECT_TIMEOUT` (Twisted's endpoint timeout), while
  `DOWNLOAD_TIMEOUT` stays the read timeout: the whole response, counted from the request
  start, as in Scrapy (a failure names which one ran out);
- a body is streamed and cut once more than `DOWNLOAD_MAXSIZE` bytes have arrived (the
  `PageCut` extension raises `StopDownload` from the `bytes_received` signal: the connection
  is dropped, the first bytes are kept); the response gets the flag `cut`. The decompressed
  size of a gzip/deflate/brotli body is still capped by Scrapy's HttpCompressionMiddleware,
  which refuses it (a gzip bomb).

It builds on Scrapy's private `_ScrapyAgent` (the only place a connect timeout can be given),
through `scrapy_compat.download`, so it is tied to the Scrapy versions named there and pinned
in setup.cfg.
"""

from __future__ import annotations

import logging

from scrapy import Request, signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import DownloadTimeoutError, StopDownload
from scrapy.http import Response
from twisted.internet.error import TimeoutError as TxTimeoutError

from search_service.crawl import scrapy_compat

log = logging.getLogger(__name__)

#: Response flag of a body cut at the size limit.
CUT = "cut"
_RECEIVED = "news_bytes_received"


class ConnectTimeoutError(DownloadTimeoutError):
    """The TCP connection was not made within NEWS_CONNECT_TIMEOUT (retried like a timeout)."""


class NewsDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) downloads with a connect timeout of their own, cut at the size limit."""

    def __init__(self, crawler):
        super().__init__(crawler)
        settings = crawler.settings
        self.connect_timeout = settings.getfloat("NEWS_CONNECT_TIMEOUT") or float("inf")
        self.cut_at = settings.getint("DOWNLOAD_MAXSIZE")

    async def download_request(self, request: Request) -> Response:
        """Download `request` (Scrapy's handler, with our agent and no size cancelling)."""
        try:  # maxsize 0: a body is cut by PageCut instead of cancelled
            response = await scrapy_compat.download(self, request, self.connect_timeout)
        except DownloadTimeoutError as exc:
            if isinstance(exc.__cause__, TxTimeoutError):
                raise ConnectTimeoutError(
                    f"connecting for {request.url} took longer than "
                    f"{self.connect_timeout:g} seconds") from exc
            raise
        if "download_stopped" in response.flags and request.meta.get(_RECEIVED, 0) > (
                cut_at(request, self.cut_at)):
            cut = cut_at(request, self.cut_at)
            log.info("%s: cut at %d bytes", request.url, cut)
            response = response.replace(body=response.body[:cut],
                                        flags=[*response.flags, CUT])
        return response



def cut_at(request: Request, default: int) -> int:
    """The size limit of `request` (0: none)."""
    return request.meta.get("download_maxsize", default)


class PageCut:
    """Stops a download (keeping what came) once more than DOWNLOAD_MAXSIZE body bytes have
    arrived (an extension: one per crawl, while a download handler is made per URL scheme)."""

    def __init__(self, crawler):
        self.limit = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler) -> PageCut:
        """Build from the crawler's settings."""
        return cls(crawler)

    def headers_received(self, request: Request, **kwargs) -> None:
        """Start counting the body of a new response."""
        request.meta[_RECEIVED] = 0

    def bytes_received(self, data: bytes, request: Request, **kwargs) -> None:
        """Count body bytes; stop the download once the size limit is reached."""
        received = request.meta.get(_RECEIVED, 0) + len(data)
        request.meta[_RECEIVED] = received
        limit = cut_at(request, self.limit)
        if limit and received > limit:
            raise StopDownload(fail=False)
