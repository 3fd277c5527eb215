"""Cadence: DORA delivery metrics beside cloud cost and utilization."""

__version__ = "0.1.0"
