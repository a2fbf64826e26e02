"""The Whoosh index: schema, analysis, the single writer, near-duplicates, the related-articles
sidecar, segment storage and what the index holds."""
