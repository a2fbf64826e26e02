"""Hub pages, feeds and sitemaps kept for half their source's re-crawl interval.

Articles are remembered in the crawl state; the pages that only lead to them (section pages,
feeds, sitemaps) are kept in Scrapy's HTTP cache (`INDEX-archive/http-cache/`) with this
policy, so a crawl restarted within the interval (after a kill, say) reads them from there
instead of fetching them again. The spider marks such requests with `HUB_CACHE` (half the
source's interval, in seconds); nothing else is cached, and `--watch` polls bypass it.
"""

from __future__ import annotations

import time

from scrapy.extensions.httpcache import DummyPolicy
from scrapy.http import Request, Response

from search_service.crawl.download import CUT

#: Request meta key: cache this hub page, feed or sitemap for this many seconds.
HUB_CACHE = "news_hub_cache"


class HubCachePolicy(DummyPolicy):
    """Cache marked requests; serve a cached copy younger than the request's interval."""

    def should_cache_request(self, request: Request) -> bool:
        """Only hub pages, feeds and sitemaps (marked by the spider) are cached."""
        return bool(request.meta.get(HUB_CACHE))

    def should_cache_response(self, response: Response, request: Request) -> bool:
        """Keep whole 200 responses only."""
        return response.status == 200 and CUT not in response.flags

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        """Fresh while younger than the request's `HUB_CACHE` seconds."""
        stored = request.meta.get("cache_timestamp", 0.0)
        return time.time() - stored < request.meta.get(HUB_CACHE, 0.0)

    def is_cached_response_valid(self, cachedresponse: Response, response: Response,
                                 request: Request) -> bool:
        """A stale copy is never used instead of a new response."""
        return False
