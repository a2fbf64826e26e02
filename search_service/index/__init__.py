"""The Whoosh index: schema, analysis, the single writer, near-duplicates, the related-articles
sidecar and what the index holds; every use of Whoosh's private API is in whoosh_compat."""
