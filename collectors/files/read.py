"""Input into a staging table: a CSV or JSON Lines file, or JSON records, read by DuckDB into a
private in-memory database, each row with its line number; and the file-level refusals (not a
file, empty, not gzip, not UTF-8, nested too deep, repeated keys)."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import mmap
import os
import re
import stat
import zlib

import duckdb

from cadence.core.errors import IngestError
from collectors.files.results import Problem, fail, json_kind, problem
from collectors.files.schemas import (CSV_SUFFIXES, JSONL_SUFFIXES, KINDS, MAX_KEYS_PER_RECORD, MAX_NESTING,
                                      NESTING_REASON, PER_CHECK, SPECS, normalize_name)
from collectors.files.validate import map_columns

def detect_format(path: str, explicit: str | None = None) -> str:
    """``csv`` or ``jsonl`` from ``--format`` or the file name."""
    if explicit:
        if explicit not in ("csv", "jsonl"):
            raise IngestError(f'Unknown format "{explicit}"; use csv or jsonl.')
        return explicit
    lower = path.lower()
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise IngestError(f'{path}: cannot tell the format from the name; use a .csv or .jsonl file, '
                      f"or pass --format csv|jsonl.")


def _open_binary(path: str):
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def unreadable(name: str, exc: Exception) -> IngestError:
    """Why a file cannot be opened or decompressed, and what to do (never "cannot read: None")."""
    if isinstance(exc, gzip.BadGzipFile):
        return IngestError(f"{name}: not a gzip file, although its name ends in .gz; compress it with gzip, "
                           f"or remove .gz from the name if it is plain text. Nothing was written.")
    if isinstance(exc, (EOFError, zlib.error)):
        return IngestError(f"{name}: the gzip data is truncated or damaged; copy or download the file again. "
                           f"Nothing was written.")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return IngestError(f"{name}: cannot read: {reason}; check the file and its permissions. Nothing was written.")


NOT_UTF8 = "not UTF-8 text (a byte such as Latin-1 or Windows-1252 writes); save the file as UTF-8"


def read_header(path: str, name: str) -> list[str]:
    """The CSV header (BOM stripped), read by Python so names and duplicates are reported exactly.

    Only the header line is decoded: a bad byte further down is left to the reader, which names
    its line."""
    lines = 0
    try:
        with _open_binary(path) as fh:
            first = b""
            while not first.strip():
                first = fh.readline()
                lines += 1
                if lines == 1:
                    first = first.removeprefix(codecs.BOM_UTF8)
                if not first:
                    break
    except (OSError, EOFError, zlib.error) as exc:
        raise unreadable(name, exc) from None
    if not first.strip():
        raise IngestError(f"{name}: the file is empty; expected a header line naming the columns "
                          f"(see docs/ingest.md). Nothing was written.")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError(f"{name}:{lines}: {NOT_UTF8}, and run again. Nothing was written.") from None
    delim = "\t" if ".tsv" in path.lower() else ","
    header = next(csv.reader(io.StringIO(text), delimiter=delim))
    return [h.strip() for h in header]


_LINE_RE = re.compile(r"line:?\s*(\d+)", re.IGNORECASE)
_LINE_SIZE_RE = re.compile(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)")


def _reader_error(name: str, exc: duckdb.Error) -> IngestError:
    """DuckDB's reader refused the file: one problem with the line DuckDB names."""
    text = str(exc)
    m = _LINE_RE.search(text)
    line = int(m.group(1)) if m else None
    size = _LINE_SIZE_RE.search(text)
    if size:
        reason = (f"the line is {int(size.group(2)):,} bytes long; a line may have at most {int(size.group(1)):,} "
                  f"bytes: shorten its values (or look for an unclosed quote that runs lines together)")
    elif "expected number of columns" in text.lower():
        found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        reason = (f"{found.group(2)} values where the header has {found.group(1)} columns; quote values "
                  f"that contain commas" if found else "wrong number of values")
    elif "unicode" in text.lower() or "utf-8" in text.lower():
        reason = NOT_UTF8
    elif "gzip" in text.splitlines()[0].lower():
        return unreadable(name, EOFError())
    else:
        # The first line of DuckDB's message that explains (not the "CSV Error on Line" header,
        # nor the offending line itself, which can be megabytes long).
        explain = [ln.strip() for ln in text.splitlines()
                   if ln.strip() and not re.match(r"(Invalid Input Error: CSV Error on Line|Original Line:)", ln.strip())]
        first = (explain or [text.strip()])[0]
        reason = f"unreadable: {first if len(first) <= 200 else first[:197] + '...'}"
    return fail(name, [Problem(line, None, reason)])


READER_TYPES = {"ts": "TIMESTAMPTZ", "int": "BIGINT", "float": "DOUBLE"}


def reader_types(kind: str, mapping: dict[str, int]) -> dict[int, str]:
    """{column index: DuckDB type} for the columns the CSV reader can parse itself."""
    types = {c.name: c.type for c in SPECS[kind]}
    return {idx: READER_TYPES[types[col]] for col, idx in mapping.items() if types[col] in READER_TYPES}


def stage_csv(mem: duckdb.DuckDBPyConnection, path: str, name: str, kind: str) -> tuple[list[str], set[str]]:
    """Load a CSV into ``raw`` (_line, c0..cN); returns the header and the columns already typed.

    Fast path: DuckDB's reader parses timestamps and numbers itself (much faster than casting text
    afterwards) and sets aside rows it cannot parse. If it sets aside any row, the file is read
    again as plain text so that the checks can report every problem with its line.
    """
    header = read_header(path, name)
    mapping, _, _ = map_columns(kind, header, name, records=False)
    typed_idx = reader_types(kind, mapping)
    delim = "\t" if ".tsv" in path.lower() else ","
    # No sniffing: a comma-separated file with a header, "-quoted; CRLF and a BOM are fine.
    read = ("CREATE TEMP TABLE raw0 AS SELECT * FROM read_csv(?, header = true, delim = ?, quote = '\"', "
            "escape = '\"', auto_detect = false, columns = ?, strict_mode = true{rejects})")
    pretyped: set[str] = set()
    if typed_idx:
        columns = {f"c{i}": typed_idx.get(i, "VARCHAR") for i in range(len(header))}
        try:
            mem.execute(read.format(rejects=", store_rejects = true"), [path, delim, columns])
            rejected = mem.execute("SELECT count(*) FROM reject_errors").fetchall()[0][0]
        except duckdb.Error:
            rejected = 1
        if rejected:
            mem.execute("DROP TABLE IF EXISTS raw0")
        else:
            pretyped = {col for col, idx in mapping.items() if idx in typed_idx}
    if not pretyped:
        columns = {f"c{i}": "VARCHAR" for i in range(len(header))}
        try:
            mem.execute(read.format(rejects=""), [path, delim, columns])
        except duckdb.Error as exc:
            raise _reader_error(name, exc) from None
    # rowid follows file order (insertion order is preserved); +2 for the header and 1-based lines.
    mem.execute("CREATE TEMP VIEW raw AS SELECT rowid + 2 AS _line, * FROM raw0")
    return header, pretyped


def stage_json_lines(mem: duckdb.DuckDBPyConnection, name: str, records: bool, kind: str) -> list[str]:
    """From ``lines`` (_line, j text) build ``raw`` (_line, c0..cN, t0..tN json types).

    Returns every key of the input, in order; only the keys naming a column of ``kind`` get a
    ``c``/``t`` pair in ``raw`` (the others are ignored), so the cost follows the size of the
    input, not the square of its number of keys. The rules for a JSON record live here, for JSON
    Lines and the webhook alike: valid JSON (a lone surrogate named as such), an object, at most
    MAX_NESTING levels and MAX_KEYS_PER_RECORD keys, no key twice in one object.
    """
    what = "record" if records else "line"
    bad = mem.execute(
        "SELECT count(*) FILTER (WHERE NOT json_valid(j)), "
        "       arg_min(_line, _line, ?) FILTER (WHERE NOT json_valid(j)) FROM lines", [PER_CHECK]).fetchall()[0]
    if bad[0]:
        texts = dict(mem.execute("SELECT _line, j FROM lines WHERE list_contains($l, _line)", {"l": bad[1]}).fetchall())
        raise fail(name, [problem(records, ln, *_invalid_json(texts[ln], what)) for ln in bad[1]],
                    records=records, total=bad[0])
    bad = mem.execute(
        "SELECT count(*) FILTER (WHERE json_type(j::JSON) <> 'OBJECT'), "
        "       arg_min({'l': _line, 't': json_type(j::JSON)}, _line, ?) FILTER (WHERE json_type(j::JSON) <> 'OBJECT') "
        "FROM lines", [PER_CHECK]).fetchall()[0]
    if bad[0]:
        raise fail(name, [problem(records, b["l"], None, f"must be a JSON object with the columns as keys, "
                                                            f"got {json_kind(b['t'])}") for b in bad[1]],
                    records=records, total=bad[0])
    _check_nesting(mem, name, records)
    _check_key_count(mem, name, records)
    _check_repeated_keys(mem, name, records, "j", "lines")
    keys = [r[0] for r in mem.execute(
        "SELECT k FROM (SELECT unnest(json_keys(j)) AS k, _line FROM lines) GROUP BY k ORDER BY min(_line), k"
    ).fetchall()]
    known = {normalize_name(n) for c in SPECS[kind] for n in (c.name, *c.aliases)}
    objects = {normalize_name(n) for c in SPECS[kind] if c.type == "json" for n in (c.name, *c.aliases)}
    parts, paths = [], []
    for i, key in enumerate(keys):
        if normalize_name(key) not in known:
            continue
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if normalize_name(key) in objects:   # tags: no key twice in the object either
            _check_repeated_keys(mem, name, records, "json_extract(j, $path)", "lines", key, {"path": path})
        paths.append(path)
        v = f"v[{len(paths)}]"
        parts.append(f"json_type({v}) AS t{i}")
        parts.append(f"CASE WHEN json_type({v}) IN ('ARRAY', 'OBJECT') THEN {v}::VARCHAR ELSE {v} ->> '$' END AS c{i}")
    if parts:   # one parse per line: json_extract with a list of paths gives every column at once
        mem.execute(f"CREATE TEMP TABLE raw AS SELECT _line, {', '.join(parts)} FROM "
                    f"(SELECT _line, json_extract(j, $paths) AS v FROM lines) ORDER BY _line", {"paths": paths})
    else:
        mem.execute("CREATE TEMP TABLE raw AS SELECT _line, NULL AS _nothing FROM lines ORDER BY _line")
    return keys


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_nesting_exceeds(text: str, limit: int = MAX_NESTING) -> bool:
    """True when arrays and objects in the JSON ``text`` nest deeper than ``limit``; iterative, so
    any depth is measured without recursion (Python's json parser fails near 1,000 levels)."""
    depth = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False




def _check_nesting(mem, name: str, records: bool) -> None:
    """Lines nested deeper than MAX_NESTING. Only lines with more brackets than that can be, and
    those (rare) are measured in Python."""
    found, total = [], 0
    cur = mem.execute("SELECT _line, j FROM lines WHERE length(j) - length(replace(replace(j, '[', ''), '{', '')) > ? "
                      "ORDER BY _line", [MAX_NESTING])
    while batch := cur.fetchmany(100):
        for line, text in batch:
            if json_nesting_exceeds(text):
                total += 1
                if len(found) < PER_CHECK:
                    found.append(problem(records, line, None, NESTING_REASON))
    if total:
        raise fail(name, found, records=records, total=total)


def _check_key_count(mem, name: str, records: bool) -> None:
    bad = mem.execute(
        "SELECT count(*) FILTER (WHERE n > $cap), arg_min({'l': _line, 'n': n}, _line, $k) FILTER (WHERE n > $cap) "
        "FROM (SELECT _line, len(json_keys(j)) AS n FROM lines)", {"cap": MAX_KEYS_PER_RECORD, "k": PER_CHECK}
    ).fetchall()[0]
    if bad[0]:
        raise fail(name, [problem(records, b["l"], None, f"has {b['n']:,} keys; a record may have at most "
                                                            f"{MAX_KEYS_PER_RECORD:,} (its columns, docs/ingest.md)")
                           for b in bad[1]], records=records, total=bad[0])


def _check_repeated_keys(mem, name: str, records: bool, obj: str, table: str, column: str | None = None,
                         params: dict | None = None) -> None:
    """No key twice in one object (``obj``: the record, or a column's object): JSON leaves the
    meaning open, and a parser silently keeps one of the values. Each key is compared with the
    keys before it; at most MAX_KEYS_PER_RECORD keys, checked before."""
    rows = mem.execute(
        f"SELECT count(*) OVER (), _line, k FROM ("
        f"  SELECT _line, min(k) AS k FROM ("
        f"    SELECT _line, ks, unnest(ks) AS k, generate_subscripts(ks, 1) AS i FROM ("
        f"      SELECT _line, json_keys({obj}) AS ks FROM {table} WHERE json_type({obj}) = 'OBJECT'))"
        f"  WHERE list_position(ks, k) <> i GROUP BY _line) ORDER BY _line LIMIT {PER_CHECK}", params or {}).fetchall()
    if rows:
        problems = [problem(records, line, key, "appears twice in one object; keep one") if column is None else
                    problem(records, line, column, f'"{key}" appears twice in one object; keep one')
                    for _, line, key in rows]
        raise fail(name, problems, records=records, total=rows[0][0])


class _RepeatedKeys(dict):
    """A JSON object that named a key twice: looks up like Python's dict (the last value wins), but
    ``json.dumps`` writes every pair as given (the encoder asks a dict subclass for ``items()``),
    so the record rules above see the repeat and refuse it."""

    def __init__(self, pairs: list[tuple[str, object]]):
        super().__init__(pairs)
        self._pairs = pairs

    def items(self):
        return list(self._pairs)


def keep_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    """``object_pairs_hook`` for ``json.loads`` that keeps a repeated key for ``ingest_records`` to refuse."""
    d = dict(pairs)
    return d if len(d) == len(pairs) else _RepeatedKeys(pairs)


def _invalid_json(text: str, what: str) -> tuple[str | None, str]:
    """(column, reason) for a line DuckDB's JSON parser refused, said as precisely as Python's
    parser allows: a lone UTF-16 surrogate or a NaN is named with its key."""
    generic = f"not valid JSON; each {what} must be one JSON object"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"{generic} ({exc.msg} at column {exc.colno})"
    except (RecursionError, ValueError):
        return None, generic
    stack = [(None, value)]
    while stack:
        key, v = stack.pop()
        if isinstance(v, str) and (m := _SURROGATE.search(v)):
            return key, (f"holds a lone UTF-16 surrogate (\\u{ord(m.group()):04x}), which is not a character; "
                         f"send the character itself, or both halves of its surrogate pair")
        if isinstance(v, float) and not math.isfinite(v):
            return key, f"{v} is not a JSON number; send a number or null"
        if isinstance(v, dict):
            for k, item in v.items():
                if _SURROGATE.search(k):
                    return None, "a key holds a lone UTF-16 surrogate, which is not a character; fix the key"
                stack.append((k if key is None else key, item))
        elif isinstance(v, list):
            stack.extend((key, item) for item in v)
    return None, generic


def stage_jsonl(mem: duckdb.DuckDBPyConnection, path: str, name: str, kind: str) -> list[str]:
    _check_not_empty(path, name)
    try:
        # Each line as one text value: a delimiter and quote that never occur in JSON text.
        mem.execute("CREATE TEMP TABLE lines0 AS SELECT j FROM read_csv(?, header = false, delim = '\x01', "
                    "quote = '', escape = '', auto_detect = false, columns = {'j': 'VARCHAR'}, "
                    "strict_mode = false)", [path])
    except duckdb.Error as exc:
        raise _reader_error(name, exc) from None
    mem.execute("CREATE TEMP TABLE lines AS SELECT rowid + 1 AS _line, j FROM lines0 "
                "WHERE j IS NOT NULL AND trim(j) <> ''")
    mem.execute("DROP TABLE lines0")
    return stage_json_lines(mem, name, records=False, kind=kind)


def _check_not_empty(path: str, name: str) -> None:
    """Raise unless the file has a non-blank line; bytes only: the reader reports bad text by line."""
    try:
        with _open_binary(path) as fh:
            if any(line.strip().removeprefix(codecs.BOM_UTF8) for line in fh):
                return
    except (OSError, EOFError, zlib.error) as exc:
        raise unreadable(name, exc) from None
    raise IngestError(f"{name}: the file is empty; expected one JSON object per line "
                      f"(see docs/ingest.md). Nothing was written.")


def memory() -> duckdb.DuckDBPyConnection:
    mem = duckdb.connect()
    mem.execute("SET TimeZone = 'UTC'")   # a naive timestamp is UTC; offsets convert to UTC
    return mem


def regular_file_size(path: str, name: str) -> int:
    """The size of ``path``, or an IngestError saying why it is not a file that can be read twice."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise IngestError(f"{name}: no such file; check the path.") from None
    except OSError as exc:
        raise unreadable(name, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(f"{name}: is a directory, not a file; give the path of a CSV or JSON Lines file.")
    if stat.S_ISFIFO(st.st_mode):
        raise IngestError(f"{name}: is a pipe, not a regular file, and an ingest reads its file more than once; "
                          f"write it to a file first (`cadence ingest` does that itself).")
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{name}: is not a regular file (a device or socket); give the path of a CSV or "
                          f"JSON Lines file.")
    return st.st_size


def has_nul_byte(path: str) -> bool:
    """Whether the file holds a NUL byte (one memchr over the mapped file; ~10 ms per 250 MB cached)."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b"\x00") >= 0
    except (OSError, ValueError):
        return True   # cannot map it: let the per-value checks decide


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise IngestError(f'Unknown kind "{kind}"; use one of {", ".join(KINDS)}.')
