"""What a warehouse says about itself (``warehouse_meta``): whether ``cadence demo`` wrote it, and
the demo organisation's configuration, which stands in for a user's config that defines no teams.

Here rather than in ``cadence.core.config``: reading it opens the database, and the bottom layer
opens nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cadence.core.config import Config, parse_config
from cadence.core.errors import DatabaseLockedError
from warehouse.db import read_connection
from warehouse.upsert import get_meta


def effective_config(config: Config, db_path: str | os.PathLike) -> Config:
    """The config to compute with: the user's, or, when it defines no teams and the database is
    the demo one, the demo organisation's teams (stored by ``cadence demo`` in warehouse_meta)."""
    if config.teams or not Path(db_path).exists():
        return config
    try:
        with read_connection(db_path) as con:
            raw = get_meta(con, "demo_config")
    except DatabaseLockedError:  # said now: the next open would only wait for the lock again
        raise
    except Exception:  # an unreadable database is reported by whoever opens it next
        return config
    if not raw:
        return config
    demo = parse_config(json.loads(raw))
    return Config(**{**config.__dict__, "teams": demo.teams, "slos": config.slos or demo.slos,
                     "cost_allocation": config.cost_allocation or demo.cost_allocation})


def is_demo_database(db_path: str | os.PathLike) -> bool:
    """True when ``cadence demo`` wrote this database (the dashboard shows a banner)."""
    if not Path(db_path).exists():
        return False
    try:
        with read_connection(db_path) as con:
            return get_meta(con, "is_demo") == "true"
    except DatabaseLockedError:
        raise
    except Exception:
        return False
