"""Analytics (issue 15): append-only events written with the facts they record, daily rollups
folded in incrementally, the summary and the CSV exports. The definitions are in METRICS.md.

`storage.analytics.events` (writers), `rollups` (fold in, reconcile), `summary`, `export`.
"""
