"""Issue 23's "numbers unchanged" check: every page's numbers on the demo, in four views, written to
a JSON file, and two such files compared.

A snapshot holds, per page and view (default; team checkout; monthly over the last 26 weeks; repo
brightcart/catalog-api): every metric tile's label, value and delta, every table as the SHA-256 of
its CSV bytes (metrics.export.to_csv_bytes: what the export writes) and every text line on the page
(each kind as a sorted set, over every section of a page split into tabs: ``SECTIONS``), from
AppTest runs on the demo database (seed 42, CADENCE_NOW at the demo's end). Run ``snapshot`` in a
checkout of each commit (it uses the code of the current directory), then ``compare``::

    git worktree add /tmp/before <commit>
    (cd /tmp/before && .venv/bin/python /path/to/benchmarks/compare_pages.py snapshot /tmp/before.json)
    .venv/bin/python benchmarks/compare_pages.py snapshot /tmp/after.json
    .venv/bin/python benchmarks/compare_pages.py compare /tmp/before.json /tmp/after.json
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

VIEWS = {"default": None, "team": {"team": "checkout"},
         "monthly": {"period": "Monthly", "range": "Last 26 weeks"},
         "repo": {"scope": "repo:brightcart/catalog-api"}}
# A page whose content is split over tabs or behind rows expanders is opened once per section (the
# query parameters added, the expanders opened) and its record is the union of what they show, so a
# page before such a split compares with itself after it. Names are spelled out (not ui's constants):
# the script also runs in checkouts older than them.
SECTIONS = {"delivery": [({}, ()), ({"tab": "Per team"}, ()), ({"tab": "Changes"}, ())],
            "stability": [({}, ()), ({"tab": "Incidents"}, ()), ({"tab": "Failed deployments"}, ())],
            "costs": [({}, ()), ({"tab": "Movers and anomalies"}, ())],
            "capacity": [({}, ("cap-balance-rows",)), ({"tab": "Contributors"}, ()),
                         ({"tab": "Next quarter"}, ("cap-table-rows",)), ({"tab": "Right-sizing"}, ())]}


def snapshot(out: Path) -> int:
    sys.path.insert(0, str(Path.cwd()))
    from collectors.demo import build_demo
    from metrics.export import to_csv_bytes
    from tests.support.apptest_support import DEMO_TODAY, PAGES, open_app, texts
    from tests.support.clock import now_text

    db = Path(tempfile.mkdtemp()) / "demo.duckdb"
    build_demo(db, seed=42, today=DEMO_TODAY)
    os.environ.update(CADENCE_DB=str(db), CADENCE_NOW=now_text(DEMO_TODAY))
    os.environ.pop("CADENCE_CONFIG", None)
    views = {}
    for name, query in VIEWS.items():
        for page in PAGES:
            seen = {"metrics": [], "tables": [], "texts": []}
            for extra, opened in SECTIONS.get(page, [({}, ())]):
                at = open_app(page, query={**(query or {}), **extra})
                for key in opened:
                    at.session_state[key] = True
                if opened:
                    at.run()
                if at.exception:
                    print(f"{name}/{page} {extra} raised: {at.exception}")
                    return 1
                seen["metrics"] += [[m.label, m.value, m.delta] for m in at.metric]
                seen["tables"] += [hashlib.sha256(to_csv_bytes(df.value)).hexdigest() for df in at.dataframe]
                seen["texts"] += texts(at).splitlines()
            views[f"{name}/{page}"] = {"metrics": sorted({json.dumps(m) for m in seen["metrics"]}),
                                       "tables": sorted(set(seen["tables"])),
                                       "texts": "\n".join(sorted(set(seen["texts"])))}
    out.write_text(json.dumps(views, indent=1, sort_keys=True), encoding="utf-8")
    print(f"{len(views)} page views, {sum(len(v['metrics']) for v in views.values())} metric tiles, "
          f"{sum(len(v['tables']) for v in views.values())} tables -> {out}")
    return 0


def compare(before: Path, after: Path) -> int:
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (before, after))
    differences = sorted(set(a) ^ set(b))
    for key in sorted(set(a) & set(b)):
        for part in ("metrics", "tables", "texts"):
            if a[key][part] != b[key][part]:
                differences.append(f"{key}: {part}")
                if part == "texts":
                    print("\n".join(difflib.unified_diff(a[key][part].splitlines(), b[key][part].splitlines(),
                                                         f"before {key}", f"after {key}", lineterm="", n=0)))
    print(f"{len(a)} page views compared: " + ("identical" if not differences else
                                                  f"{len(differences)} differ: " + ", ".join(differences)))
    return 1 if differences else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        sys.exit(snapshot(Path(sys.argv[2])))
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    print(__doc__)
    sys.exit(2)
