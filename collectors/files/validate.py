"""The checking pass: the input's header mapped to columns, every value typed and checked in one
pass of SQL, and ``staged`` (the rows to write) defined only when nothing is wrong."""

from __future__ import annotations

from dataclasses import replace

from cadence.core.config import Config
from collectors.files.check import (cost_allocation, duplicate_check, final_select, json_type_checks, kind_checks,
                                    run_checks, time_params, typed_select)
from collectors.files.results import IngestResult, Problem, fail, names, note_unknown, note_warning
from collectors.files.schemas import PIPELINE_KEYS, RESERVED_TEAMS, SPECS, Col, normalize_name
from warehouse.upsert import TABLE_KEYS

def map_columns(kind: str, header: list[str], name: str,
                 records: bool) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """{column: index in the staged table}, {column: name as given}, unknown names; raises on
    missing or ambiguous columns."""
    by_name: dict[str, Col] = {}
    for col in SPECS[kind]:
        by_name[col.name] = col
        for alias in col.aliases:
            by_name[alias] = col
    mapping: dict[str, int] = {}
    given_as: dict[str, str] = {}
    unknown: list[str] = []
    problems: list[Problem] = []
    line = None if records else 1
    for i, raw_name in enumerate(header):
        key = normalize_name(raw_name)
        if not key:
            if not records:
                problems.append(Problem(line, None, f"column {i + 1} of the header has no name"))
            continue
        col = by_name.get(key)
        if col is None:
            unknown.append(raw_name)
            continue
        if col.name in mapping:
            problems.append(Problem(line, raw_name, f'names the same column as "{given_as[col.name]}" '
                                                    f"({col.name}); keep one of them"))
            continue
        mapping[col.name] = i
        given_as[col.name] = raw_name
    for col in SPECS[kind]:
        if col.required and col.name not in mapping:
            also = f' (or {", ".join(col.aliases)})' if col.aliases else ""
            problems.append(Problem(line, col.name, f"missing required column{also}; "
                                                    f"the input has: {names(header) or 'no columns'}"))
    if kind == "incidents" and "service" not in mapping and "repo" not in mapping:
        problems.append(Problem(line, "service", "missing column: an incident needs a service or a repo column"))
    if kind == "costs" and "effective_cost" not in mapping and "billed_cost" not in mapping:
        problems.append(Problem(line, "amount", "missing required column: an amount (amount, cost, "
                                                "effective_cost or billed_cost)"))
    if problems:
        if records:  # a missing key in JSON records: say so without a line
            problems = [Problem(None, p.column, p.reason.replace("the input has", "the records have"))
                        for p in problems]
        raise fail(name, problems)
    return mapping, given_as, unknown


def validate(mem, kind: str, header: list[str], fmt: str, name: str, config: Config, source: str,
              records: bool, result: IngestResult, pretyped: set[str] = frozenset(),
              nul_check: bool = True) -> tuple[list[str], bool]:
    """Type and check ``raw``; raise IngestError listing every kind of fault, else define ``staged``.

    ``typed`` and ``staged`` are views: the values are computed in the one checking pass and again
    when the caller reads ``staged``, which costs less than materializing them.
    """
    mapping, given_as, unknown = map_columns(kind, header, name, records)

    def as_given(found: list[Problem]) -> list[Problem]:  # name columns as the input wrote them
        return [replace(q, column=given_as.get(q.column, q.column)) for q in found]

    note_unknown(result, name, unknown)
    if fmt == "json":
        p, n = json_type_checks(mem, mapping, kind, name, records)
        if n:
            raise fail(name, as_given(p), records=records, total=n)
    exprs, checks = typed_select(kind, mapping, fmt, pretyped, nul_check)
    mem.execute(f"CREATE TEMP VIEW typed AS SELECT {', '.join(exprs)} FROM raw")
    result.rows_read = mem.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    errors, warns = kind_checks(kind, mapping, config)
    errors = checks + [e for e in errors if e[1]]
    found = run_checks(mem, errors + warns, records,
                        params={"teams": sorted(config.teams) + list(RESERVED_TEAMS),
                                "slos": [s.name for s in config.slos], **time_params()})
    problems = [q for _, ps in found[:len(errors)] for q in ps]
    total = sum(n for n, _ in found[:len(errors)])
    if kind == "sli":
        p, n = duplicate_check(mem, ["slo", "hour"], name, records, "one row per SLO and hour (sum such rows)")
        problems += p
        total += n
    elif kind in PIPELINE_KEYS:
        # an attempt not given is 1 (as final_select writes it)
        key = [k for k in PIPELINE_KEYS[kind] if k != "attempt" or "attempt" in mapping]
        key = ["coalesce(attempt, 1)" if k == "attempt" else k for k in key]
        p, n = duplicate_check(mem, key, name, records,
                                f"each {' + '.join(PIPELINE_KEYS[kind])} once per input")
        problems += p
        total += n
    elif kind != "costs":
        p, n = duplicate_check(mem, ["id"], name, records, "each id once per input")
        problems += p
        total += n
    if problems:
        raise fail(name, as_given(problems), records=records, total=total)
    for (col, _, reason), (count, hits) in zip(warns, found[len(errors):], strict=True):
        if count:
            note_warning(result, name, count, reason, [q.row + 1 if records else q.line for q in hits], records)
    source_table = "typed"
    if kind == "costs":
        cost_allocation(mem, mapping, config)
        source_table = "typed2"
    select, cols = final_select(kind, mapping, config, source)
    # A view takes no parameters: `source` is bound when the caller reads the view (load).
    mem.execute(f"CREATE TEMP VIEW staged AS SELECT _line, {select} FROM {source_table}")
    if kind == "costs":
        key = [k for k in TABLE_KEYS["costs"] if k != "source"]
        p, n = duplicate_check(mem, key, name, records,
                                "one row per day, provider, account, service, region, resource and team tag "
                                "(sum such rows, or add resource_id)", table="staged")
        if n:
            raise fail(name, p, records=records, total=n)
    has_links = kind == "deployments" and "change_ids" in mapping
    if has_links:
        mem.execute("CREATE TEMP TABLE links AS SELECT DISTINCT id AS deployment_id, unnest(change_ids) AS change_id, "
                    "$source AS source FROM typed WHERE len(change_ids) > 0", {"source": source})
    return cols, has_links
