"""JSON records with unknown keys cost time in proportion to their size (issue 13, item 3).

Before the fix, a record's unknown keys each became SQL over every record: N unknown keys cost
about N² (1,000 keys: 38 s). Now they are dropped before any SQL is built. This measures
``collectors.files.ingest_records`` (the webhook's path; `cadence ingest` of JSON Lines shares it)
into a fresh warehouse file:

* accepted: N distinct unknown keys spread over N / 100 deployment records of 100 unknown keys each
  (under the 500-key cap), for N = 1,000 … 100,000;
* refused: one record of N unknown keys (over the cap), answered with the error;
* baselines, in the same run: the same records without their unknown keys (the fixed cost of a
  call: a warehouse file, the checks, the write), and Python's own ``json.dumps`` + ``json.loads``
  of the records, which any receiver pays before Cadence's checks begin.

Linear means the time each unknown key adds (accepted minus the same records without them, per
key) stays about the same as N grows a hundredfold. Prints medians of ``--runs`` runs (default 3).

    .venv/bin/python benchmarks/bench_json_keys.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

from cadence.core.config import Config  # noqa: E402
from cadence.core.errors import IngestError  # noqa: E402
from collectors.files import ingest_records  # noqa: E402

KEYS_PER_RECORD = 100


def record(n: int, keys: int) -> dict:
    rec = {"id": f"bench:{n}", "repo": "shop/api", "environment": "production", "status": "success",
           "finished_at": "2026-03-02T10:00:00Z"}
    rec.update({f"unknown_{n}_{k}": k for k in range(keys)})
    return rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = Config()
    print(f"{'unknown keys':>12}  {'body MB':>7}  {'accepted':>9}  {'without them':>12}  {'per key':>8}  "
          f"{'refused':>8}  {'json.loads+dumps':>16}")
    with tempfile.TemporaryDirectory(prefix="cadence-bench-keys-") as tmp:
        warm = Path(tmp) / "warm.duckdb"
        ingest_records(warm, "deployments", [record(0, 0)], config=config)   # imports, first connection
        for total in (1_000, 10_000, 100_000):
            records = [record(n, KEYS_PER_RECORD) for n in range(total // KEYS_PER_RECORD)]
            plain = [record(n, 0) for n in range(total // KEYS_PER_RECORD)]
            body = json.dumps(records)
            one = [record(0, total)]
            db = Path(tmp) / f"k{total}.duckdb"

            def accept(records=records, db=db):
                for p in (db, Path(f"{db}.wal")):
                    p.unlink(missing_ok=True)
                result = ingest_records(db, "deployments", records, config=config)
                assert result.inserted == len(records), result.summary()

            def refuse(one=one, db=db):
                try:
                    ingest_records(db, "deployments", one, config=config)
                except IngestError as exc:
                    assert "keys; a record may have at most" in str(exc)
                else:
                    raise AssertionError("a record over the key cap was accepted")

            def baseline(records=records):
                json.loads(json.dumps(records))

            accepted = median_seconds(accept, args.runs)
            without = median_seconds(lambda plain=plain: accept(plain), args.runs)
            refused = median_seconds(refuse, args.runs)
            base = median_seconds(baseline, args.runs)
            print(f"{total:>12,}  {len(body) / 1e6:>7.2f}  {accepted:>8.2f}s  {without:>11.2f}s  "
                  f"{(accepted - without) / total * 1e6:>6.1f}µs  {refused:>7.2f}s  {base:>15.3f}s", flush=True)
    print(f"\n{args.runs} runs, medians; cpus {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
