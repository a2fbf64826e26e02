"""Every use of Scrapy's private API (and of Twisted through it), in one place.

Verified against Scrapy 2.19.0 on Twisted 26.10.0 (setup.cfg allows scrapy>=2.19,<2.20: a new
minor release must be checked against this module and the crawl tests before the bound is
raised). Twisted itself is only used through its public API. What each part relies on, and
why no public API does the job:

- `download`: `scrapy.core.downloader.handlers.http11._ScrapyAgent` and its `_get_agent`
  (the only place a TCP connect timeout other than DOWNLOAD_TIMEOUT can be given), the
  HTTP/1.1 handler's private fields (`_contextFactory`, `_bind_address`, `_pool`,
  `_default_warnsize`, `_fail_on_dataloss`, `_fail_on_dataloss_warned`, `_crawler`,
  `_tls_verbose_logging`) and `scrapy.utils._download_handlers` (how the handler turns
  Twisted errors into Scrapy's and warns about data loss);
- `hold_slot`: `Downloader._latercall`, the callback with which Scrapy resumes a download
  slot after its delay (a Retry-After pause reuses Scrapy's own delay mechanism);
- `ThrottleWithHook`: `AutoThrottle._adjust_delay`, the one place a slot's delay is set after
  each response (a robots.txt Crawl-delay must stay a floor under it);
- `set_slot_heartbeat`: `ExecutionEngine._SLOT_HEARTBEAT_INTERVAL`, how often an idle engine
  looks for new requests (a scaled-out worker polls Redis more often than every 5 s).
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler, _ScrapyAgent
from scrapy.exceptions import ResponseDataLossError
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.web.client import Agent

log = logging.getLogger(__name__)

#: The Scrapy versions this module has been checked against.
VERIFIED_VERSIONS = ("2.19.0",)


class _ConnectTimeoutAgent(_ScrapyAgent):
    """Scrapy's agent, connecting within `connect_timeout` instead of the whole timeout."""

    def __init__(self, *, connect_timeout: float, **kwargs):
        super().__init__(**kwargs)
        self.connect_timeout = connect_timeout

    def _get_agent(self, request: Request, timeout: float) -> Agent:
        return super()._get_agent(request, min(timeout, self.connect_timeout))


async def download(handler: HTTP11DownloadHandler, request: Request, connect_timeout: float,
                   maxsize: int = 0) -> Response:
    """Download `request` as `handler` (Scrapy's HTTP/1.1 handler) would, but connecting
    within `connect_timeout` seconds and cancelling only bodies over `maxsize` (0: none).

    Raises Scrapy's download errors (a DownloadTimeoutError caused by Twisted's
    TimeoutError when connecting took too long)."""
    agent = _ConnectTimeoutAgent(
        connect_timeout=connect_timeout,
        contextFactory=handler._contextFactory,
        bindAddress=handler._bind_address,
        pool=handler._pool,
        maxsize=maxsize,
        warnsize=handler._default_warnsize,
        fail_on_dataloss=handler._fail_on_dataloss,
        crawler=handler._crawler,
        tls_verbose_logging=handler._tls_verbose_logging,
    )
    try:
        with wrap_twisted_exceptions():
            return await maybe_deferred_to_future(agent.download_request(request))
    except ResponseDataLossError:
        if not handler._fail_on_dataloss_warned:
            log.warning(get_dataloss_msg(request.url))
            handler._fail_on_dataloss_warned = True
        raise


def hold_slot(downloader, slot, seconds: float) -> None:
    """Send nothing from the download `slot` for `seconds`, then resume its queue (Scrapy's
    own delay mechanism: the downloader waits while the slot's `latercall` is pending)."""
    if slot.latercall is not None:
        slot.latercall.cancel()
    slot.latercall = call_later(seconds, downloader._latercall, slot)


class ThrottleWithHook(AutoThrottle):
    """AutoThrottle that calls `adjusted(slot, response)` after each delay adjustment."""

    def adjusted(self, slot, response: Response) -> None:
        """Called after AutoThrottle set `slot.delay` from `response` (nothing by default)."""

    def _adjust_delay(self, slot, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, response)
        self.adjusted(slot, response)


def set_slot_heartbeat(engine, seconds: float) -> None:
    """Make `engine` look for new requests every `seconds` once it starts (Scrapy: 5 s)."""
    engine._SLOT_HEARTBEAT_INTERVAL = seconds
