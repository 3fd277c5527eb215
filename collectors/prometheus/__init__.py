"""Prometheus → ``sli_hours``: hourly good and total events of each declared SLO.

Public entry point: ``sync(db_path, config, *, now=None, since=None, only=None) -> PrometheusReport``
(``sync.py``). ``settings.py`` validates ``[sources.prometheus]``, ``client.py`` speaks the HTTP
API with retries and auth, ``increments.py`` turns hourly evaluations into exact increments.
"""

from collectors.prometheus.sync import PrometheusReport, sync

__all__ = ["PrometheusReport", "sync"]
