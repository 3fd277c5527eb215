"""Cost export benchmark: `cadence ingest costs` of a large FOCUS export against DuckDB's bare
scan-and-aggregate of the same files, in the same run (issue 22).

Targets: wall time ≤ 3× the bare scan-and-aggregate (best of ``--runs`` on both sides) and peak
memory ≤ 1.5 GB at 20,000,000 lines (the default ``[sources.cost_exports] memory_limit`` of 1 GB).

* ingest: the real command, ``cadence --db NEW.duckdb ingest costs FILE_OR_FOLDER`` in a child
  process: every check, allocation, the write into a new warehouse file, process start included;
* bare: a child process running DuckDB (its own defaults: 80 % of RAM, all cores) over the same
  files, ``SELECT day, account, sub-account, service, region, resource, team tag, sums GROUP BY``,
  no checks and nothing written: the least any ingest that reads the files can take. The sums
  are summed once more outside the GROUP BY, so that DuckDB computes them (a bare
  ``count(*)`` of the groups lets its optimizer drop every sum);
* old (``--old``, 2 M lines only): the previous path (``collectors/cost_exports.py`` of commit
  2b72df9, before issue 22), once, for the record.

Peak memory is the child's maximum resident set (``wait4``'s ``ru_maxrss``), so it covers the
whole process; the child is forked from a small launcher process, not from the benchmark, whose
own resident set (hundreds of MB after generating the data) a forked child's peak would start
from. Both children start from compiled bytecode, as after ``pip install``: an untimed
warm-up run of each writes it first, with ``PYTHONDONTWRITEBYTECODE`` removed from their
environment (set, it makes every start compile every module again: 0.15 CPU s more for the
ingest's start, 0.1 for the bare one's). The load average is printed beside each set: on a
shared machine wall times stretch with it, CPU times much less. The data is generated with DuckDB from a seed (hash of line number), hourly lines of
one month, 1.9 M lines per file, written under a temporary folder (``--keep DIR`` to keep them) and
never into the repository.

    .venv/bin/python benchmarks/bench_cost_exports.py [--lines 2000000] [--big] [--runs 3] [--old]

``--big`` adds the 20,000,000-line sets (about 7 GB of CSV; several minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
LINES_PER_FILE = 1_900_000
OLD_COMMIT = "2b72df9"


def generate(folder: Path, lines: int, fmt: str, seed: int = 7) -> Path:
    """FOCUS 1.0 lines (the columns AWS writes that Cadence reads, plus a few it ignores), hourly
    over September 2026, 3 billing accounts, 200 sub-accounts, 40,000 resources, a Tags JSON (CSV) or
    MAP (Parquet) with a business_unit tag on four resources in five."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    files = max(1, -(-lines // LINES_PER_FILE))
    for part in range(files):
        lo, hi = part * lines // files, (part + 1) * lines // files
        # A resource keeps its tags; one in five is untagged.
        tags = ("CASE WHEN r % 5 = 0 THEN NULL ELSE json_object('business_unit', 'bu-' || (r % 12), 'env', 'prod') END"
                if fmt == "csv" else
                "CASE WHEN r % 5 = 0 THEN MAP {}::MAP(VARCHAR, VARCHAR) "
                "ELSE MAP {'business_unit': 'bu-' || (r % 12), 'env': 'prod'} END")
        # Timestamps as AWS writes them: text in CSV, TIMESTAMP columns in Parquet.
        ts = (lambda e: f"strftime({e}, '%Y-%m-%d %H:%M:%S')") if fmt == "csv" else (lambda e: e)  # noqa: E731
        target = folder / f"focus-{part:05d}.{fmt}"
        options = "(HEADER, DELIMITER ',', NULLSTR 'NULL')" if fmt == "csv" else "(FORMAT parquet, COMPRESSION snappy)"
        con.execute(f"""
        COPY (
          SELECT 'AWS' AS ProviderName, 'Amazon Web Services, Inc.' AS PublisherName,
                 '1234567890' || (r % 3) AS BillingAccountId,
                 lpad(((r % 200) * 7919)::VARCHAR, 12, '0') AS SubAccountId,
                 'Usage' AS ChargeCategory,
                 {ts("TIMESTAMP '2026-09-01' + to_hours(i % 720)")} AS ChargePeriodStart,
                 {ts("TIMESTAMP '2026-09-01' + to_hours(i % 720 + 1)")} AS ChargePeriodEnd,
                 {ts("TIMESTAMP '2026-09-01'")} AS BillingPeriodStart, {ts("TIMESTAMP '2026-10-01'")} AS BillingPeriodEnd,
                 ['Amazon Elastic Compute Cloud', 'Amazon Simple Storage Service', 'Amazon Relational Database Service',
                  'AWS Lambda', 'Amazon CloudFront', 'Amazon DynamoDB'][1 + r % 6] AS ServiceName,
                 ['Compute', 'Storage', 'Databases', 'Compute', 'Networking', 'Databases'][1 + r % 6] AS ServiceCategory,
                 ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-west-2'][1 + (r // 7) % 4] AS RegionId,
                 'arn:aws:service:region:acct:resource/r-' || r AS ResourceId,
                 round((h % 100000) / 40000.0, 8) AS BilledCost,
                 round((h % 100000) / 45000.0, 8) AS EffectiveCost,
                 round((h % 100000) / 38000.0, 8) AS ListCost,
                 round((h % 1000) / 10.0, 4) AS ConsumedQuantity,
                 'Hrs' AS ConsumedUnit, 'USD' AS BillingCurrency,
                 'SKU' || (r % 500) AS SkuId,
                 'Usage charge for resource r-' || r AS ChargeDescription,
                 {tags} AS Tags
          FROM (SELECT i, (i // 720) % 40000 AS r, hash(i, {seed}) AS h FROM range({lo}, {hi}) t(i))
        ) TO '{target}' {options}""")
    return folder


# Runs one command and prints its exit code, wall seconds, peak RSS (MB) and CPU seconds. The
# measured command is forked from this small launcher, not from the benchmark: Linux starts a
# process's peak resident set at that of the process it was forked from (and keeps it across
# exec), and the benchmark holds hundreds of MB after generating the data.
LAUNCHER = textwrap.dedent("""
    import os, sys, time
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execve(sys.argv[1], sys.argv[1:], os.environ)
    _, status, usage = os.wait4(pid, 0)
    print(os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 1024,
          usage.ru_utime + usage.ru_stime)
""")


def run_child(argv: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds: user + system) of one child process."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], env=env, capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"launcher failed ({done.returncode}):\n{done.stderr[-2000:]}")
    code, wall, peak, cpu = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({code}):\n{done.stderr[-2000:]}")
    return float(wall), float(peak), float(cpu)


BARE = textwrap.dedent("""
    import sys, duckdb
    folder, fmt = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = (f"read_parquet('{folder}/*.parquet')" if fmt == 'parquet'
           else f"read_csv('{folder}/*.csv', header = true, nullstr = ['NULL', ''])")
    tag = ("Tags['business_unit']" if fmt == 'parquet' else "json_extract_string(Tags, '$.business_unit')")
    n = con.execute(f'''SELECT count(*), sum(billed), sum(effective), sum(list), sum(quantity) FROM (
        SELECT CAST(ChargePeriodStart AS DATE), ProviderName, BillingAccountId, SubAccountId, ServiceName,
               RegionId, ResourceId, {tag}, sum(BilledCost) AS billed, sum(EffectiveCost) AS effective,
               sum(ListCost) AS list, sum(ConsumedQuantity) AS quantity
        FROM {rel} GROUP BY ALL)''').fetchone()[0]
    print(n)
""")

OLD = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    import old_cost_exports
    from cadence.core.config import parse_config
    print(old_cost_exports.ingest_cost_export(Path(sys.argv[1]), parse_config({}), sys.argv[2])["rows_written"])
""")


def child_env(work: Path) -> dict:
    """The children's environment: the benchmark's config, and bytecode written and read as in an
    installed Cadence (see the module docstring)."""
    env = {**os.environ, "CADENCE_CONFIG": str(work / "cadence.toml")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_ingest(work: Path, folder: Path, env: dict) -> tuple[float, float, float]:
    db = work / "bench.duckdb"
    db.unlink(missing_ok=True)
    cadence = str(Path(sys.executable).with_name("cadence"))
    return run_child([cadence, "--db", str(db), "ingest", "costs", str(folder)], env)


def warm_up(work: Path) -> None:
    """One untimed run of each child on a small export: every module they import is compiled."""
    folder = generate(work / "warm-up", 1000, "parquet")
    env = child_env(work)
    run_ingest(work, folder, env)
    run_child([sys.executable, "-c", BARE, str(folder), "parquet"], env)
    shutil.rmtree(folder)


def bench_set(work: Path, lines: int, fmt: str, runs: int, old: bool, keep: bool) -> dict:
    folder = work / f"focus-{lines}-{fmt}"
    if not folder.exists():
        t = time.perf_counter()
        generate(folder, lines, fmt)
        print(f"  generated {lines:,} lines of {fmt} in {time.perf_counter() - t:.0f} s "
              f"({sum(f.stat().st_size for f in folder.iterdir()) / 1e6:,.0f} MB)", flush=True)
    python = sys.executable
    env = child_env(work)
    ingest, bare = [], []
    load = [os.getloadavg()[0]]
    for _ in range(runs):
        ingest.append(run_ingest(work, folder, env))
        bare.append(run_child([python, "-c", BARE, str(folder), fmt], env))
        load.append(os.getloadavg()[0])
    with duckdb.connect(str(work / "bench.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM costs").fetchone()[0]
    result = {"lines": lines, "fmt": fmt, "rows": rows, "load": (min(load), max(load)),
              "ingest_s": min(r[0] for r in ingest), "ingest_med": statistics.median(r[0] for r in ingest),
              "ingest_mb": max(r[1] for r in ingest), "ingest_cpu": min(r[2] for r in ingest),
              "bare_s": min(r[0] for r in bare), "bare_med": statistics.median(r[0] for r in bare),
              "bare_mb": max(r[1] for r in bare), "bare_cpu": min(r[2] for r in bare)}
    if old:
        module_dir = work / "old"
        module_dir.mkdir(exist_ok=True)
        code = subprocess.run(["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:collectors/cost_exports.py"],
                              check=True, capture_output=True, text=True).stdout
        (module_dir / "old_cost_exports.py").write_text(code)
        db = work / "old.duckdb"
        db.unlink(missing_ok=True)
        result["old_s"], result["old_mb"], result["old_cpu"] = run_child([python, "-c", OLD, str(db), str(folder), str(module_dir)],
                                                         {**env, "PYTHONPATH": str(REPO)})
    if not keep:
        shutil.rmtree(folder)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--big", action="store_true", help="also 20,000,000 lines (several minutes)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--old", action="store_true", help="also the previous path, once, at --lines")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep the files")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))    # a stopped run still removes its files
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cadence-bench-exports-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "cadence.toml").write_text('[sources.aws]\nteam_tag = "business_unit"\n\n'
                                       '[teams.payments]\ncost_tags = ["bu-1", "bu-2"]\n\n'
                                       '[teams.search]\naccounts = ["000000007919"]\n')
    print(f"cost export benchmark: files under {work}; best of {args.runs} wall time, max peak RSS; "
          f"default memory_limit 1GB; {os.cpu_count()} cores", flush=True)
    sets = [args.lines] + ([20_000_000] if args.big else [])
    warm_up(work)
    results = []
    try:
        for lines in sets:
            for fmt in args.formats.split(","):
                print(f"{lines:,} lines, {fmt}:", flush=True)
                r = bench_set(work, lines, fmt, args.runs, args.old and lines == args.lines, bool(args.keep))
                results.append(r)
                old = (f"; old path {r['old_s']:.1f} s, peak {r['old_mb']:,.0f} MB (now {r['old_s'] / r['ingest_s']:.1f}× "
                       f"faster)" if "old_s" in r else "")
                print(f"  ingest {r['ingest_s']:.1f} s (median {r['ingest_med']:.1f}, CPU {r['ingest_cpu']:.1f} s), "
                      f"peak {r['ingest_mb']:,.0f} MB → {r['rows']:,} daily rows | bare scan-and-aggregate "
                      f"{r['bare_s']:.1f} s (median {r['bare_med']:.1f}, CPU {r['bare_cpu']:.1f} s), peak "
                      f"{r['bare_mb']:,.0f} MB | ratio {r['ingest_s'] / r['bare_s']:.2f}× (target ≤ 3×), medians "
                      f"{r['ingest_med'] / r['bare_med']:.2f}×, CPU {r['ingest_cpu'] / r['bare_cpu']:.2f}× | load average "
                      f"{r['load'][0]:.1f}–{r['load'][1]:.1f}{old}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n| lines | format | load | ingest s best / median (CPU s) | ingest peak MB | bare s best / median (CPU s) "
          "| bare peak MB | ratio best (median, CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['lines']:,} | {r['fmt']} | {r['load'][0]:.0f}–{r['load'][1]:.0f} | {r['ingest_s']:.2f} / "
              f"{r['ingest_med']:.2f} ({r['ingest_cpu']:.2f}) | {r['ingest_mb']:,.0f} | {r['bare_s']:.2f} / "
              f"{r['bare_med']:.2f} ({r['bare_cpu']:.2f}) | {r['bare_mb']:,.0f} | {r['ingest_s'] / r['bare_s']:.2f}× "
              f"({r['ingest_med'] / r['bare_med']:.2f}×, {r['ingest_cpu'] / r['bare_cpu']:.2f}×) |")
    big = [r for r in results if r["lines"] >= 20_000_000]
    if big:
        print(f"peak memory at 20 M lines: {max(r['ingest_mb'] for r in big):,.0f} MB (target ≤ 1,536 MB)")


if __name__ == "__main__":
    main()
