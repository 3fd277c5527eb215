"""AWS billing exports (CUR 2.0, FOCUS 1.x) into ``costs`` at organisation scale.

- ``local``: files → ``costs`` set-wise in DuckDB, memory-bounded (``cadence ingest costs``);
- ``s3``: an AWS Data Exports prefix, incremental by billing period (``cadence sync aws-exports``);
- ``athena``: the same daily aggregation run by Athena (``cadence sync aws-exports --athena``).
"""
