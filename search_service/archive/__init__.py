"""The raw record, below everything that reads it: WARC archives (writing and reading), saved
page files, and the crawl's state and per-source reports kept beside the archive."""
