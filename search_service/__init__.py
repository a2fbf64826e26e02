"""News search: crawl → normalise → index (Whoosh) → search → web."""

__version__ = "0.1.0"
