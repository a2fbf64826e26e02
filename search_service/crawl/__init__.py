"""Getting pages: saved files and WARC archives on disk (HTTP crawling comes later)."""
