"""Metrics over the warehouse: pure functions ``(con, config, ...) -> pandas.DataFrame``.

SQL lives in ``metrics/sql/<name>.sql``; definitions are written out in docs/metrics.md.
"""

from metrics.dora import dora_metrics, dora_metrics_views, drilldown

__all__ = ["dora_metrics", "dora_metrics_views", "drilldown"]
