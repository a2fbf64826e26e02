"""Polite HTTP crawling (Scrapy): sources, politeness, spider, pipelines, and scaleout/; every
use of Scrapy's private API is in scrapy_compat."""
