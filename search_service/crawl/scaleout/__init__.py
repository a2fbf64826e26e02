"""A crawl spread over several processes or machines: the Redis frontier, the shared per-host
limiter, the hand-off stream and the one index-worker."""
