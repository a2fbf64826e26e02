"""Getting pages: saved files and WARC archives on disk, and polite HTTP crawling (Scrapy)."""
