"""The typed columns and the checks of every kind, as SQL over the staging table, and the final rows
(defaults, synonyms, cost allocation) that are written."""

from __future__ import annotations

from collections.abc import Iterable

from cadence.core.config import Config
from cadence.core.timerange import accepted_range, describe_accepted_range
from collectors.files.results import Problem, json_kind, problem
from collectors.files.schemas import (CONCLUSION_SYNONYMS, CONCLUSIONS, PER_CHECK, PIPELINE_KEYS, RUN_STATUSES,
                                      RUNNER_OSES, SPECS, STATUS_SYNONYMS, STATUSES, UNKNOWN_PROVIDER)

TS_HINT = "is not an ISO-8601 timestamp (e.g. 2026-03-01T14:30:00Z or 2026-03-01 14:30:00+02:00)"


def time_params() -> dict:
    """The accepted range (cadence.core.timerange) as the bound parameters of ``_time_range_check``."""
    earliest, latest = accepted_range()
    return {"ts_min": earliest, "ts_max": latest, "day_min": earliest.date(), "day_max": latest.date()}


def _time_range_check(name: str, kind: str) -> tuple[str, str, str]:
    """A check refusing a time (``kind`` ts) or a day (date) outside the accepted range: every
    stored time is an event that has happened, and one the dashboard can show."""
    lo, hi = ("$ts_min", "$ts_max") if kind == "ts" else ("$day_min", "$day_max")
    earliest, latest = accepted_range()
    shown = (describe_accepted_range() if kind == "ts"
             else f"{earliest:%Y-%m-%d} to {latest:%Y-%m-%d} (one day after today)")
    return (name, f"{name} IS NOT NULL AND ({name} < {lo} OR {name} > {hi})",
            f'"{{v}}" is outside the accepted range {shown}; correct the time at its source')


NUL_REASON = ('"{v}" contains a NUL character; remove it (NUL bytes come from binary or UTF-16 files, '
              'or a broken export)')


def typed_select(kind: str, mapping: dict[str, int], fmt: str, pretyped: set[str] = frozenset(),
                  nul_check: bool = True) -> tuple[list[str], list[tuple[str, str, str]]]:
    """SELECT expressions building ``typed`` from ``raw``, and the checks: (column, bad-condition, reason).

    ``pretyped`` columns were parsed by the CSV reader already (every value valid). ``nul_check``:
    refuse text with a NUL character (a caller that knows the input has none passes False)."""
    exprs = ["_line"]
    checks: list[tuple[str, str, str]] = []
    specs = {c.name: c for c in SPECS[kind]}
    for name, idx in mapping.items():
        col = specs[name]
        c = f"c{idx}"
        r = f"{name}__raw"
        if name in pretyped:
            exprs.append(f"CAST({c} AS VARCHAR) AS {r}")
            if col.type == "ts":
                # The reader parsed TIMESTAMPTZ (offsets applied); its microseconds since the epoch
                # are the UTC time. make_timestamp(epoch_us()) is a tenth of the cost of CAST, which
                # goes through the time-zone library; it gives NULL for "infinity", refused here.
                exprs.append(f"make_timestamp(epoch_us({c})) AS {name}")
                exprs.append(f"isfinite({c}) AS {name}__finite")
                checks.append((name, f"NOT {name}__finite", f'"{{v}}" {TS_HINT}'))
                checks.append(_time_range_check(name, "ts"))
            else:
                exprs.append(f"{c} AS {name}")
            if col.type == "float":
                checks.append((name, f"NOT isfinite({name})", '"{v}" is not a finite number'))
            if col.required:
                checks.append((name, f"{name} IS NULL", "is empty; a value is required"))
            continue
        exprs.append(f"{c} AS {r}")
        jtype = f"t{idx}" if fmt == "json" else None
        jt = f"{name}__jt"
        if jtype:
            exprs.append(f"{jtype} AS {jt}")
        if nul_check and (col.type in ("key", "text", "status") or (col.type == "list" and fmt != "json")):
            # Numbers and times with a NUL fail their own check; a JSON list's items are checked below.
            checks.append((name, f"contains({r}, chr(0))", NUL_REASON))
        if col.type == "key":
            exprs.append(f"nullif(trim({c}), '') AS {name}")
        elif col.type == "text":
            exprs.append(f"nullif({c}, '') AS {name}")
        elif col.type == "status":
            exprs.append(f"nullif(lower(trim({c})), '') AS {name}")
        elif col.type == "ts":
            # TIMESTAMPTZ honours an offset; the session is UTC, so naive text is UTC too. As above,
            # make_timestamp(epoch_us()) is the UTC time (NULL, so refused, for "infinity").
            exprs.append(f"make_timestamp(epoch_us(TRY_CAST(nullif(trim({c}), '') AS TIMESTAMPTZ))) AS {name}")
            checks.append((name, f"nullif(trim({r}), '') IS NOT NULL AND {name} IS NULL", f'"{{v}}" {TS_HINT}'))
            checks.append(_time_range_check(name, "ts"))
        elif col.type == "date":
            exprs.append(f"coalesce(TRY_CAST(nullif(trim({c}), '') AS DATE), "
                         f"CAST(TRY_CAST(nullif(trim({c}), '') AS TIMESTAMPTZ) AS DATE)) AS {name}")
            checks.append((name, f"nullif(trim({r}), '') IS NOT NULL AND {name} IS NULL",
                           '"{v}" is not a date (YYYY-MM-DD)'))
            checks.append(_time_range_check(name, "date"))
        elif col.type == "int":
            exprs.append(f"TRY_CAST(nullif(trim({c}), '') AS BIGINT) AS {name}")
            checks.append((name, f"nullif(trim({r}), '') IS NOT NULL AND {name} IS NULL",
                           '"{v}" is not a whole number'))
        elif col.type == "float":
            exprs.append(f"TRY_CAST(nullif(trim({c}), '') AS DOUBLE) AS {name}")
            checks.append((name, f"nullif(trim({r}), '') IS NOT NULL AND ({name} IS NULL OR NOT isfinite({name}))",
                           '"{v}" is not a number (digits with a dot for decimals, no currency sign '
                           'or thousands separator)'))
        elif col.type == "bool":
            exprs.append(f"TRY_CAST(nullif(lower(trim({c})), '') AS BOOLEAN) AS {name}")
            checks.append((name, f"nullif(trim({r}), '') IS NOT NULL AND {name} IS NULL",
                           '"{v}" is not true or false'))
        elif col.type == "list":
            split = (f"list_filter(list_transform(string_split({c}, ','), lambda x: trim(x)), lambda x: x <> '')")
            if fmt == "json":
                # JSON Lines: an array of strings (a comma-separated string is accepted too).
                exprs.append(f"CASE WHEN {jtype} = 'ARRAY' THEN list_filter(list_transform("
                             f"TRY_CAST({c}::JSON AS VARCHAR[]), lambda x: trim(x)), lambda x: x <> '') "
                             f"WHEN {jtype} = 'VARCHAR' THEN {split} END AS {name}")
                # The cast turns an inner array or object into its text: refuse those items.
                checks.append((name, f"{jt} = 'ARRAY' AND ({name} IS NULL OR NOT list_bool_and(list_transform("
                                     f"json_extract({r}, '$[*]'), lambda x: json_type(x) NOT IN ('ARRAY', 'OBJECT'))))",
                               "must be an array of strings"))
                if nul_check:
                    checks.append((name, f"contains(array_to_string({name}, ','), chr(0))", NUL_REASON))
            else:
                exprs.append(f"CASE WHEN nullif(trim({c}), '') IS NOT NULL THEN {split} END AS {name}")
        elif col.type == "json":
            if fmt == "json":
                exprs.append(f"CASE WHEN {jtype} = 'OBJECT' THEN {c} "
                             f"WHEN {jtype} = 'VARCHAR' AND json_valid({c}) THEN {c} END AS {name}")
                checks.append((name, f"{jt} = 'VARCHAR' AND NOT (json_valid({r}) AND json_type({r}::JSON) = 'OBJECT')",
                               "must be a JSON object of tag names to values"))
            else:
                exprs.append(f"CASE WHEN json_valid(nullif(trim({c}), '')) THEN nullif(trim({c}), '') END AS {name}")
                checks.append((name, f"nullif(trim({r}), '') IS NOT NULL AND NOT (json_valid(trim({r})) AND "
                                     f"json_type(trim({r})::JSON) = 'OBJECT')",
                               '"{v}" is not a JSON object (write tags as {"team": "payments"})'))
        if col.required and col.type not in ("list",):
            # A key or status is NULL exactly when the text is empty (they are nullif(trim(...)));
            # testing the typed value spares trimming every value a second time.
            empty = f"{name} IS NULL" if col.type in ("key", "status") else f"nullif(trim({r}), '') IS NULL"
            checks.append((name, empty, "is empty; a value is required"))
    return exprs, checks


def kind_checks(kind: str, mapping: dict[str, int], config: Config) -> tuple[list, list]:
    """Cross-column checks on ``typed``: (errors, warnings), each (column, condition, reason)."""
    errors: list[tuple[str, str, str]] = []
    warnings: list[tuple[str, str, str]] = []
    if kind == "deployments":
        accepted = ", ".join(STATUSES)
        errors.append(("status", f"status IS NOT NULL AND status NOT IN ({_sql_list(STATUSES)}) "
                                 f"AND status NOT IN ({_sql_list(STATUS_SYNONYMS)})",
                       f'"{{v}}" is not a deployment status; use one of {accepted}'))
        if "started_at" in mapping:
            warnings.append(("finished_at", "finished_at < started_at", "finished before it started"))
    elif kind == "changes":
        if "first_commit_at" in mapping and "merged_at" in mapping:
            warnings.append(("merged_at", "merged_at < first_commit_at",
                             "merged before its first commit (rebase or clock skew); kept, with the coding "
                             "stage counted as unknown"))
    elif kind == "incidents":
        if "resolved_at" in mapping:
            errors.append(("resolved_at", "resolved_at < created_at",
                           'resolved at "{v}", before it was created ({other})'))
        have = [c for c in ("service", "repo") if c in mapping]
        errors.append((have[0], " AND ".join(f"{c} IS NULL" for c in have),
                       "an incident needs a service or a repo; both are empty"))
    elif kind == "costs":
        if "team" in mapping:
            known = ", ".join(sorted(config.teams)) or "none configured"
            where = f" in {config.path}" if config.path else ""
            errors.append(("team", "team IS NOT NULL AND NOT list_contains($teams, team)",
                           f'unknown team "{{v}}"; teams{where}: {known} (add it under [teams.NAME] or fix the row)'))
        if "currency" in mapping:
            errors.append(("currency", "currency IS NOT NULL AND NOT regexp_full_match(currency, '[A-Za-z]{3}')",
                           '"{v}" is not a currency code (e.g. USD, EUR)'))
    elif kind == "sli":
        errors += _sli_checks(config)
    elif kind in PIPELINE_KEYS:
        errors += _pipeline_checks(kind, mapping)
    return errors, warnings


def _pipeline_checks(kind: str, mapping: dict[str, int]) -> list[tuple[str, str, str]]:
    """A CI attempt or job: known words, attempt 1 or more, and queued <= started <= finished (a
    time out of order is an error, not a warning: it would make durations and queue times negative)."""
    have = set(mapping)
    words = ", ".join(CONCLUSIONS)
    errors = []
    if "conclusion" in have:
        errors.append(("conclusion", f"conclusion IS NOT NULL AND conclusion NOT IN ({_sql_list(CONCLUSIONS)}) "
                                     f"AND conclusion NOT IN ({_sql_list(CONCLUSION_SYNONYMS)})",
                       f'"{{v}}" is not a conclusion; use one of {words} (empty while running)'))
    if "attempt" in have:
        errors.append(("attempt", "attempt IS NOT NULL AND attempt < 1", '"{v}" is not an attempt number (1, 2, ...)'))
    if kind == "pipeline_runs" and "status" in have:
        errors.append(("status", f"status IS NOT NULL AND status NOT IN ({_sql_list(RUN_STATUSES)})",
                       f'"{{v}}" is not a status; use one of {", ".join(RUN_STATUSES)}'))
    if kind == "pipeline_jobs" and "runner_os" in have:
        errors.append(("runner_os", f"runner_os IS NOT NULL AND runner_os NOT IN ({_sql_list(RUNNER_OSES)})",
                       f'"{{v}}" is not a runner OS; use one of {", ".join(RUNNER_OSES)}'))
    noun = "attempt" if kind == "pipeline_runs" else "job"
    if {"queued_at", "started_at"} <= have:
        errors.append(("started_at", "started_at < queued_at",
                       f'"{{v}}" is before the {noun} was queued ({{other}}); fix the times at their source'))
    if {"started_at", "finished_at"} <= have:
        errors.append(("finished_at", "finished_at < started_at",
                       f'"{{v}}" is before the {noun} started ({{other}}); fix the times at their source'))
    elif {"queued_at", "finished_at"} <= have:
        errors.append(("finished_at", "finished_at < queued_at",
                       f'"{{v}}" is before the {noun} was queued ({{other}}); fix the times at their source'))
    return errors


def _sli_checks(config: Config) -> list[tuple[str, str, str]]:
    """An SLI row names a declared SLO (a typo would otherwise vanish from every figure), counts a
    whole UTC hour, and has 0 <= good <= total."""
    where = f" in {config.path}" if config.path else ""
    declared = ", ".join(s.name for s in config.slos)
    known = (f"SLOs declared{where}: {declared} (declare it under [[slos]] or fix the row)" if declared
             else f"no SLO is declared{where}; declare it under [[slos]] first (docs/sources.md)")
    return [
        ("slo", "slo IS NOT NULL AND NOT list_contains(CAST($slos AS VARCHAR[]), slo)", f'unknown SLO "{{v}}"; {known}'),
        ("hour", "hour IS NOT NULL AND hour <> date_trunc('hour', hour)",
         '"{v}" is not the start of a whole UTC hour (minutes and seconds 0, e.g. 2026-03-01T14:00:00Z)'),
        ("good", "good < 0", '"{v}" is negative; a count of events is 0 or more'),
        ("total", "total < 0", '"{v}" is negative; a count of events is 0 or more'),
        ("good", "good > total", '"{v}" is more than total ({other}); good events are part of total'),
    ]


def _sql_list(values: Iterable[str]) -> str:
    """A SQL list of string literals from fixed, code-owned vocabularies (status words, JSON types);
    never for values from input or configuration (those are bound parameters)."""
    out = []
    for v in values:
        out.append("'" + str(v).replace("'", "''") + "'")
    return ", ".join(out) or "NULL"


def run_checks(mem, checks: list[tuple[str, str, str]], records: bool, table: str = "typed",
                params: dict | None = None) -> list[tuple[int, list[Problem]]]:
    """All checks in one pass over ``table``: per check, the count and up to PER_CHECK problems.

    The pass gathers only counts and line numbers; the offending values are fetched afterwards
    for those few lines (carrying them through the whole pass costs more than the checks).
    """
    if not checks:
        return []
    parts = []
    for _, cond, _ in checks:
        parts.append(f"count(*) FILTER (WHERE {cond})")
        parts.append(f"min(_line, {PER_CHECK}) FILTER (WHERE {cond})")
    used = {k: v for k, v in (params or {}).items() if f"${k}" in " ".join(parts)}
    row = mem.execute(f"SELECT {', '.join(parts)} FROM {table}", used).fetchall()[0]
    out = []
    for i, (col, _, reason) in enumerate(checks):
        count, lines = row[2 * i], row[2 * i + 1] or []
        problems = []
        if count:
            other = {"resolved_at": "created_at__raw", "good": "total__raw"}.get(col, "NULL")
            if col in ("started_at", "finished_at") and "queued_at" in checks[i][1]:
                other = "queued_at__raw"
            elif col == "finished_at" and "started_at" in checks[i][1]:
                other = "started_at__raw"
            hits = mem.execute(f"SELECT _line, {col}__raw::VARCHAR, {other}::VARCHAR FROM {table} "
                               f"WHERE list_contains($lines, _line) ORDER BY _line", {"lines": lines}).fetchall()
            for line, value, other_value in hits:
                value = "" if value is None else value.replace("\x00", "\\u0000")
                shown = value if len(value) <= 60 else value[:57] + "..."
                text = reason.replace("{v}", shown).replace("{other}", other_value or "")
                problems.append(problem(records, line, col, text))
        out.append((count, problems))
    return out


def json_type_checks(mem, mapping, kind, name, records) -> tuple[list[Problem], int]:
    """JSON input: a scalar column given an array/object, or a list column given a number."""
    specs = {c.name: c for c in SPECS[kind]}
    checks = []
    for col, idx in mapping.items():
        t = f"t{idx}"
        if specs[col].type in ("list", "json"):
            allowed = ("ARRAY", "VARCHAR", "NULL") if specs[col].type == "list" else ("OBJECT", "VARCHAR", "NULL")
            checks.append((col, t, f"{t} IS NOT NULL AND {t} NOT IN ({_sql_list(allowed)})",
                           "must be an array of strings" if specs[col].type == "list" else "must be a JSON object"))
        else:
            checks.append((col, t, f"{t} IN ('ARRAY', 'OBJECT')", "must be a single value, not an array or object"))
    if not checks:
        return [], 0
    parts = []
    for col, t, cond, _ in checks:
        parts.append(f"count(*) FILTER (WHERE {cond})")
        parts.append(f"arg_min({{'l': _line, 't': {t}}}, _line, {PER_CHECK}) FILTER (WHERE {cond})")
    row = mem.execute(f"SELECT {', '.join(parts)} FROM raw").fetchall()[0]
    problems, total = [], 0
    for i, (col, _, _, reason) in enumerate(checks):
        if row[2 * i]:
            total += row[2 * i]
            problems += [problem(records, h["l"], col, f"{reason} (got {json_kind(h['t'])})")
                         for h in row[2 * i + 1]]
    return problems, total


def duplicate_check(mem, key_cols: list[str], name: str, records: bool, label: str,
                     table: str = "typed") -> tuple[list[Problem], int]:
    """Rows sharing a key: the second line of each, naming the first."""
    keys = ", ".join(key_cols)
    if len(key_cols) == 1:  # the common case: a cheap count first, the details only when needed
        extra = mem.execute(f"SELECT count({keys}) - count(DISTINCT {keys}) FROM {table}").fetchall()[0][0]
        if not extra:
            return [], 0
    rows = mem.execute(
        f"SELECT count(*) OVER () AS n, lines, shown FROM ("
        f"  SELECT min(_line, 2) AS lines, {key_cols[0]}::VARCHAR AS shown FROM {table} "
        f"  GROUP BY {keys} HAVING count(*) > 1) ORDER BY lines[2] LIMIT {PER_CHECK}").fetchall()
    if not rows:
        return [], 0
    problems = []
    for _, lines, shown in rows:
        first, again = lines[0], lines[1]
        where = f"record {first}" if records else f"line {first}"
        problems.append(problem(records, again, key_cols[0] if len(key_cols) == 1 else None,
                                 f'"{shown}" appears again (first on {where}); {label}'))
    return problems, rows[0][0]


def final_select(kind: str, mapping: dict[str, int], config: Config, source: str) -> tuple[str, list[str]]:
    """SELECT over ``typed`` giving the warehouse columns, and their names."""
    have = set(mapping)

    def pick(col: str, default: str = "NULL") -> str:
        return col if col in have else default

    if kind == "deployments":
        cols = {"id": "id", "repo": "repo", "service": f"coalesce({pick('service')}, repo)",
                "environment": "environment",
                "sha": pick("sha"), "status": f"coalesce(map_extract_value(MAP {_synonym_map()}, status), status)",
                "started_at": pick("started_at"), "finished_at": "finished_at", "url": pick("url")}
    elif kind == "changes":
        cols = {c: pick(c) for c in ("id", "repo", "number", "title", "author", "labels", "first_commit_at",
                                      "opened_at", "first_review_at", "merged_at", "merge_sha", "url")}
        cols["labels"] = f"CAST({pick('labels')} AS VARCHAR[])"
    elif kind == "incidents":
        cols = {"id": "id", "service": f"coalesce({pick('service')}, {pick('repo')})", "repo": pick("repo"),
                "title": pick("title"), "severity": pick("severity"), "created_at": "created_at",
                "resolved_at": pick("resolved_at"), "caused_by_deployment_id": pick("caused_by_deployment_id"),
                "url": pick("url")}
    elif kind == "sli":
        cols = {"slo": "slo", "hour": "hour", "good": "good", "total": "total"}
    elif kind == "pipeline_runs":
        conclusion = f"coalesce(map_extract_value(MAP {_synonym_map(CONCLUSION_SYNONYMS)}, {pick('conclusion')}), " \
                     f"{pick('conclusion')})"
        cols = {"id": "id", "attempt": f"CAST(coalesce({pick('attempt')}, 1) AS INTEGER)", "repo": "repo",
                "workflow": "workflow", "branch": pick("branch"), "sha": pick("sha"), "event": pick("event"),
                "status": f"coalesce({pick('status')}, CASE WHEN {pick('finished_at')} IS NOT NULL "
                          f"THEN 'completed' ELSE 'in_progress' END)",
                "conclusion": conclusion,
                "created_at": f"coalesce({pick('created_at')}, {pick('queued_at')}, {pick('started_at')})",
                "queued_at": f"coalesce({pick('queued_at')}, {pick('started_at')})",
                "started_at": pick("started_at"), "finished_at": pick("finished_at"), "url": pick("url")}
    elif kind == "pipeline_jobs":
        conclusion = f"coalesce(map_extract_value(MAP {_synonym_map(CONCLUSION_SYNONYMS)}, {pick('conclusion')}), " \
                     f"{pick('conclusion')})"
        cols = {"run_id": "run_id", "attempt": f"CAST(coalesce({pick('attempt')}, 1) AS INTEGER)", "name": "name",
                "runner_os": pick("runner_os"), "runner_labels": f"CAST({pick('runner_labels')} AS VARCHAR[])",
                "self_hosted": f"coalesce({pick('self_hosted')}, false)",
                "queued_at": f"coalesce({pick('queued_at')}, {pick('started_at')})",
                "started_at": pick("started_at"), "finished_at": pick("finished_at"),
                "conclusion": conclusion, "url": pick("url")}
    else:
        eff = pick("effective_cost", pick("billed_cost"))
        billed = pick("billed_cost", pick("effective_cost"))
        cols = {"charge_date": "charge_date", "provider": f"coalesce({pick('provider')}, '{UNKNOWN_PROVIDER}')",
                "billing_account_id": f"coalesce({pick('billing_account_id')}, '')",
                "sub_account_id": f"coalesce({pick('sub_account_id')}, '')", "service_name": "service_name",
                "region": f"coalesce({pick('region')}, '')", "resource_id": f"coalesce({pick('resource_id')}, '')",
                "allocation_tag": "_alloc_tag", "service_category": pick("service_category"),
                "tags": f"CAST({pick('tags')} AS JSON)", "team": "_team",
                "billed_cost": f"coalesce({billed}, 0)", "effective_cost": f"coalesce({eff}, 0)",
                "list_cost": pick("list_cost"), "consumed_quantity": pick("consumed_quantity"),
                "consumed_unit": pick("consumed_unit"), "currency": f"upper(coalesce({pick('currency')}, 'USD'))",
                "estimated": f"coalesce({pick('estimated')}, false)"}
    select = ", ".join(f"{expr} AS {name}" for name, expr in cols.items())
    return select, [*cols, "source"]


def _synonym_map(synonyms: dict[str, str] = STATUS_SYNONYMS) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in synonyms.items()) + "}"


def cost_allocation(mem, mapping: dict[str, int], config: Config) -> None:
    """Add _alloc_tag and _team to ``typed``: explicit team → team tag → account → service rules."""
    import pandas as pd

    from cadence.core.allocation import allocation_rules

    team_tag = str(config.source("aws").get("team_tag") or "team")
    rules = allocation_rules(config)
    mem.register("cost_rules", rules if len(rules) else
                 pd.DataFrame({"kind": pd.Series(dtype=object), "value": pd.Series(dtype=object),
                               "team": pd.Series(dtype=object)}))
    # An explicit team is kept by the metrics' re-allocation when it is written as that team's tag
    # value (its first cost tag); a team without cost tags keeps it only in the stored column.
    first_tags = {t.name: sorted(t.cost_tags)[0] for t in config.teams.values() if t.cost_tags}
    mem.register("team_first_tag", pd.DataFrame({"team": list(first_tags), "tag": list(first_tags.values())},
                                                dtype=object))
    tag_path = '$."' + team_tag.replace("\\", "\\\\").replace('"', '\\"') + '"'
    tag_expr = "json_extract_string(tags, $tag_path)" if "tags" in mapping else "NULL"
    team_expr = "t.team" if "team" in mapping else "NULL"
    acct = "t.sub_account_id" if "sub_account_id" in mapping else "NULL"
    bill = "t.billing_account_id" if "billing_account_id" in mapping else "NULL"
    mem.execute(f"""
        CREATE TEMP TABLE typed2 AS
        SELECT t.*, coalesce(nullif({tag_expr}, ''), ft.tag, '') AS _alloc_tag,
               coalesce({team_expr}, rt.team, ra.team, rb.team, rs.team, 'unallocated') AS _team
        FROM typed t
        LEFT JOIN team_first_tag ft ON ft.team = {team_expr}
        LEFT JOIN cost_rules rt ON rt.kind = 'tag' AND rt.value = nullif({tag_expr}, '')
        LEFT JOIN cost_rules ra ON ra.kind = 'account' AND ra.value = {acct}
        LEFT JOIN cost_rules rb ON rb.kind = 'account' AND rb.value = {bill}
        LEFT JOIN cost_rules rs ON rs.kind = 'service' AND rs.value = t.service_name
        ORDER BY t._line""", {"tag_path": tag_path} if "tags" in mapping else {})
