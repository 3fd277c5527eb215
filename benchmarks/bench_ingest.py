"""Ingest benchmark: `cadence ingest changes` of a large CSV against DuckDB just reading it.

Target (issue 2): a 5,000,000-row changes CSV ingests in about twice the time DuckDB needs to read
it. Both are measured in the same run on the same file:

* baseline: a fresh in-memory DuckDB, ``CREATE TABLE t AS SELECT * FROM read_csv(FILE)`` (DuckDB's
  own type detection; every row parsed and materialized, nothing checked, nothing written to disk);
* ingest: the real command, ``cadence --db NEW.duckdb ingest changes FILE`` in a subprocess: read,
  every check, and the write into a new warehouse file, committed to disk (a file this large into
  an empty table takes the one-pass load; process start and schema creation included);
* re-ingest: the same file again into the filled warehouse (every row unchanged), once;
* for scale: DuckDB counting the file's rows, and DuckDB reading it into a table of a new database
  file (written to disk, no checks, no key), the least any ingest that stores the rows can take.

The file is generated with DuckDB from a seed (hash of row number and seed), so it is the same on
every machine. Prints medians of ``--runs`` runs (default 3) and the ratio.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 5000000] [--runs 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


def generate_changes_csv(path: Path, rows: int, seed: int) -> None:
    """A realistic changes file: 40 repos, 300 authors, some labels, four timestamps (one with an
    offset), a few merged-before-first-commit rows; deterministic for a seed."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""
    COPY (
      SELECT 'bench:org/repo-' || (i % 40) || '#' || i AS id,
             'org/repo-' || (i % 40) AS repo,
             i AS number,
             'Change number ' || i AS title,
             'dev' || (hash(i, $seed, 1) % 300) AS author,
             CASE hash(i, $seed, 2) % 10 WHEN 0 THEN 'hotfix' WHEN 1 THEN 'bug,backend' ELSE '' END AS labels,
             strftime(TIMESTAMP '2025-01-01' + to_seconds(t0), '%Y-%m-%dT%H:%M:%SZ') AS first_commit_at,
             strftime(TIMESTAMP '2025-01-01' + to_seconds(t0 + hash(i, $seed, 4) % 86400), '%Y-%m-%dT%H:%M:%SZ')
                 AS opened_at,
             strftime(TIMESTAMP '2025-01-01' + to_seconds(t0 + 86400 + hash(i, $seed, 5) % 86400),
                      '%Y-%m-%dT%H:%M:%S+02:00') AS first_review_at,
             strftime(TIMESTAMP '2025-01-01' + to_seconds(t0 + 200000 - (hash(i, $seed, 6) % 203000)::BIGINT),
                      '%Y-%m-%dT%H:%M:%SZ') AS merged_at,
             md5(i::VARCHAR)[:12] AS merge_sha,
             'https://git.example.com/org/repo-' || (i % 40) || '/pull/' || i AS url
      FROM (SELECT i, (hash(i, $seed, 3) % 31536000)::BIGINT AS t0 FROM range({int(rows)}) r(i))
    ) TO '{path}' (HEADER, DELIMITER ',')""", {"seed": seed})
    con.close()


def time_baseline(path: Path) -> float:
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def time_count(path: Path) -> float:
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute("SELECT count(*) FROM read_csv(?)", [str(path)]).fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def time_floor(path: Path, db: Path) -> float:
    """DuckDB alone reading the file into a table of a new database file, closed (so written to
    disk): no checks, no key. What any ingest that stores the rows cannot beat."""
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
    con.close()
    elapsed = time.perf_counter() - started
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    return elapsed


def time_ingest(path: Path, db: Path) -> tuple[float, str, str]:
    cadence = Path(sys.executable).with_name("cadence")
    env = {k: v for k, v in os.environ.items() if k not in ("CADENCE_DB", "CADENCE_CONFIG")}
    started = time.perf_counter()
    proc = subprocess.run([str(cadence), "-vv", "--db", str(db), "ingest", "changes", str(path)],
                          capture_output=True, text=True, env=env, cwd=REPO)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"cadence ingest failed:\n{proc.stderr}")
    # collectors.files logs its phases at debug level: "ingest FILE phases: read 2.1 s, check ..."
    phases = next((line.split(" phases: ", 1)[-1] for line in proc.stderr.splitlines() if " phases: " in line), "")
    return elapsed, proc.stdout.strip(), phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cadence-bench-ingest-") as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "changes.csv"
        started = time.perf_counter()
        generate_changes_csv(csv_path, args.rows, args.seed)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows, {size_mb:,.0f} MB in {time.perf_counter() - started:.1f} s "
              f"(seed {args.seed})", flush=True)

        baseline, counts, floors, ingests = [], [], [], []
        last_out = ""
        for run in range(args.runs):
            # Alternate so that load on a shared machine hits both alike.
            baseline.append(time_baseline(csv_path))
            counts.append(time_count(csv_path))
            floors.append(time_floor(csv_path, tmp / "floor.duckdb"))
            db = tmp / f"run{run}.duckdb"
            elapsed, last_out, phases = time_ingest(csv_path, db)
            ingests.append(elapsed)
            print(f"run {run + 1}: DuckDB read {baseline[-1]:.2f} s, count(*) {counts[-1]:.2f} s, "
                  f"into a file {floors[-1]:.2f} s, cadence ingest {elapsed:.2f} s ({phases})", flush=True)
            if run < args.runs - 1:
                for p in (db, Path(f"{db}.wal")):
                    p.unlink(missing_ok=True)
        again, again_out, again_phases = time_ingest(csv_path, db)

    b, c, i = statistics.median(baseline), statistics.median(counts), statistics.median(ingests)
    f = statistics.median(floors)
    print()
    print(f"rows: {args.rows:,}  runs: {args.runs}  cpus: {os.cpu_count()}  "
          f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"baseline  DuckDB CREATE TABLE AS read_csv   median {b:7.2f} s")
    print(f"          DuckDB count(*) over read_csv     median {c:7.2f} s")
    print(f"          DuckDB read_csv into a new file   median {f:7.2f} s   ({f / b:.2f}x; no checks, no key)")
    print(f"cadence ingest changes (new warehouse)      median {i:7.2f} s   ({args.rows / i:,.0f} rows/s)")
    print(f"cadence ingest changes again (all unchanged)        {again:7.2f} s   ({again_phases})")
    print(f"ratio ingest / DuckDB read: {i / b:.2f}x  (target about 2x)")
    print(f"last ingest said: {last_out}")
    print(f"re-ingest said:   {again_out}")


if __name__ == "__main__":
    main()
