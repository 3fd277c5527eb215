"""Reading a test's warehouse file."""

from __future__ import annotations

from warehouse import connect


def rows(db_path, sql: str, params=()) -> list[tuple]:
    """The rows of ``sql`` (bound ``params``) on the warehouse at ``db_path``."""
    con = connect(db_path)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()
