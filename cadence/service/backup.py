"""``cadence backup`` / ``cadence restore``: a consistent copy of the warehouse, taken while the
service runs, and brought back into an empty path.

Backup: a read-only connection holds DuckDB's file lock (no process can write meanwhile; writers
wait, as they wait for any reader, up to their lock wait), the file and its WAL are copied, then
the copy is opened and every table counted. ``DIR`` gets ``cadence.duckdb`` (and ``.wal`` when
there is one) plus ``manifest.json``: schema version, rows per table, SHA-256 of each file. It is
written into a temporary directory beside ``DIR`` and renamed into place: a failed backup leaves
nothing that looks like a backup.

Restore: the manifest's checksums and row counts are checked on a copy beside the target, which is
then renamed into place; an existing warehouse is replaced only with ``--force`` (and is kept as
``<name>.before-restore``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cadence.core.errors import CadenceError, WarehouseError

MANIFEST = "manifest.json"
DB_NAME = "cadence.duckdb"
FORMAT = 1
# Files DuckDB keeps beside a database: "<db>.wal".
WAL_SUFFIX = ".wal"


class BackupError(CadenceError):
    """A backup cannot be written or a restore refused (what, where, what to do next)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def table_counts(con) -> dict[str, int]:
    """Rows of every table of the main schema, by name."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' "
        "ORDER BY table_name").fetchall()]
    return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(db_path: str | os.PathLike, to: str | os.PathLike, *, force: bool = False) -> dict:
    """Write a consistent copy of ``db_path`` into the directory ``to``; returns the manifest."""
    from warehouse.db import LATEST_VERSION, connect, database_version

    db_path, to = Path(db_path), Path(to)
    if not db_path.exists():
        raise BackupError(f'No warehouse at "{db_path}" to back up; check --db / CADENCE_DB.')
    if to.exists() and any(to.iterdir()) and not force:
        raise BackupError(f'"{to}" is not empty; pick a new directory for this backup (e.g. one named by the date), '
                          "or pass --force to replace what is there.")
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{to.name}.", dir=to.parent))
    try:
        con = connect(db_path, read_only=True)   # holds the file lock: nothing writes while we copy
        try:
            version = database_version(con)
            counts = table_counts(con)
            shutil.copyfile(db_path, tmp / DB_NAME)
            wal = Path(f"{db_path}{WAL_SUFFIX}")
            if wal.exists():
                shutil.copyfile(wal, tmp / f"{DB_NAME}{WAL_SUFFIX}")
        finally:
            con.close()
        check = connect(tmp / DB_NAME, read_only=True)   # the copy opens and holds the same rows
        try:
            copied = table_counts(check)
        finally:
            check.close()
        if copied != counts:
            raise BackupError(f"the copy of {db_path} does not hold the same rows as the warehouse; nothing was "
                              "kept. Try again; if it persists, check the disk.")
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        from cadence import __version__

        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "cadence_version": __version__, "schema_version": version,
                    "latest_schema_version": LATEST_VERSION, "source": str(db_path.resolve()),
                    "tables": counts, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for p in tmp.iterdir():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
        if to.exists():
            shutil.rmtree(to)
        os.replace(tmp, to)
        _fsync_dir(to.parent)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(src: Path) -> dict:
    path = src / MANIFEST
    if not path.exists():
        raise BackupError(f'"{src}" is not a Cadence backup (no {MANIFEST}); give the directory `cadence backup --to` '
                          "wrote.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: unreadable manifest ({exc}); the backup is damaged, use another one.") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{path}: not a backup format this Cadence reads (format {manifest.get('format')!r}).")
    return manifest


def restore(src: str | os.PathLike, db_path: str | os.PathLike, *, force: bool = False) -> dict:
    """Bring the backup in ``src`` back to ``db_path``; returns the manifest."""
    from warehouse.db import LATEST_VERSION, connect

    src, db_path = Path(src), Path(db_path)
    manifest = read_manifest(src)
    if manifest.get("schema_version", 0) > LATEST_VERSION:
        raise BackupError(f"{src} holds schema version {manifest['schema_version']}, newer than this Cadence "
                          f"({LATEST_VERSION}); restore it with the Cadence that wrote it, or upgrade.")
    for name, digest in manifest["files"].items():
        if Path(name).name != name or not (src / name).is_file():
            raise BackupError(f"{src}: {name} is missing; the backup is incomplete, use another one.")
        if _sha256(src / name) != digest:
            raise BackupError(f"{src}: {name} does not match its checksum; the backup is damaged, use another one.")
    wal = Path(f"{db_path}{WAL_SUFFIX}")
    if (db_path.exists() or wal.exists()) and not force:
        raise BackupError(f'"{db_path}" already holds a warehouse; restore into an empty path, or pass --force to '
                          f'replace it (the current one is kept as "{db_path.name}.before-restore").')
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{db_path.name}.restore.", dir=db_path.parent))
    try:
        staged = tmp / db_path.name
        shutil.copyfile(src / DB_NAME, staged)
        if (src / f"{DB_NAME}{WAL_SUFFIX}").exists():
            shutil.copyfile(src / f"{DB_NAME}{WAL_SUFFIX}", Path(f"{staged}{WAL_SUFFIX}"))
        con = connect(staged)          # replays the WAL into the file and applies newer migrations
        try:
            con.execute("CHECKPOINT")
            counts = table_counts(con)
        finally:
            con.close()
        expected = manifest.get("tables", {})
        wrong = sorted(t for t, n in expected.items() if counts.get(t) != n)
        if wrong:
            raise BackupError(f"{src}: restored table(s) {', '.join(wrong)} do not hold the rows the manifest "
                              "lists; nothing was restored.")
        if db_path.exists() or wal.exists():
            keep = db_path.with_name(db_path.name + ".before-restore")
            if db_path.exists():
                os.replace(db_path, keep)
            if wal.exists():
                os.replace(wal, Path(f"{keep}{WAL_SUFFIX}"))
        os.replace(staged, db_path)
        _fsync_dir(db_path.parent)
        return manifest
    except WarehouseError as exc:
        raise BackupError(f"{src}: the backup does not open as a warehouse ({exc}); nothing was restored.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
