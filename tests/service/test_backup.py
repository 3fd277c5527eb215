"""`cadence backup` / `cadence restore`: round trip of the demo warehouse (every table equal),
refusals, and damaged backups. (A backup taken while `cadence serve` writes: tests/service/test_serve.py.)"""

from __future__ import annotations

import json
import shutil

import pytest

from cadence.cli import main
from tests.support.demo import copy_demo, shared_demo
from warehouse import read_connection, write_connection


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = copy_demo(shared_demo(tmp_path_factory), tmp_path_factory.mktemp("backup"))   # written below
    with write_connection(path) as con:   # a WAL with a committed row the backup must carry too
        con.execute("INSERT INTO warehouse_meta VALUES ('after_checkpoint', 'kept')")
    return path


def snapshot(path) -> dict[str, list]:
    """Every row of every table, sorted, by table."""
    with read_connection(path) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        out = {}
        for t in tables:
            rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            out[t] = sorted(rows, key=repr)
    return out


def test_round_trip_keeps_every_table(demo_db, tmp_path, capsys):
    before = snapshot(demo_db)
    assert main(["--db", str(demo_db), "backup", "--to", str(tmp_path / "b")]) == 0
    assert "Restore with `cadence restore" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["tables"] == {t: len(rows) for t, rows in before.items()}
    restored = tmp_path / "new" / "cadence.duckdb"
    assert main(["--db", str(restored), "restore", str(tmp_path / "b")]) == 0
    after = snapshot(restored)
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    assert ("after_checkpoint", "kept") in after["warehouse_meta"]


def test_restore_over_a_warehouse_needs_force(demo_db, tmp_path, capsys):
    assert main(["--db", str(demo_db), "backup", "--to", str(tmp_path / "b")]) == 0
    target = tmp_path / "live.duckdb"
    with write_connection(target) as con:
        con.execute("INSERT INTO warehouse_meta VALUES ('mine', 'yes')")
    capsys.readouterr()
    assert main(["--db", str(target), "restore", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "already holds a warehouse" in err and "--force" in err
    assert ("mine", "yes") in snapshot(target)["warehouse_meta"]          # untouched
    assert main(["--db", str(target), "restore", str(tmp_path / "b"), "--force"]) == 0
    assert snapshot(target)["deployments"] == snapshot(demo_db)["deployments"]
    kept = tmp_path / "live.duckdb.before-restore"
    assert ("mine", "yes") in snapshot(kept)["warehouse_meta"]


def test_a_damaged_or_foreign_backup_restores_nothing(demo_db, tmp_path, capsys):
    assert main(["--db", str(demo_db), "backup", "--to", str(tmp_path / "b")]) == 0
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "b", damaged)
    with (damaged / "cadence.duckdb").open("r+b") as fh:
        fh.seek(5000)
        fh.write(b"\xff" * 16)
    target = tmp_path / "t.duckdb"
    capsys.readouterr()
    assert main(["--db", str(target), "restore", str(damaged)]) == 1
    assert "does not match its checksum" in capsys.readouterr().err
    assert not target.exists()
    assert main(["--db", str(target), "restore", str(tmp_path)]) == 1
    assert "is not a Cadence backup" in capsys.readouterr().err
    assert not target.exists() and not list(tmp_path.glob(".t.duckdb.restore.*"))


def test_backup_refuses_a_used_directory_and_a_missing_warehouse(demo_db, tmp_path, capsys):
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    assert main(["--db", str(demo_db), "backup", "--to", str(used)]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert (used / "notes.txt").read_text() == "mine"
    assert main(["--db", str(tmp_path / "none.duckdb"), "backup", "--to", str(tmp_path / "x")]) == 1
    assert "No warehouse at" in capsys.readouterr().err and not (tmp_path / "x").exists()
