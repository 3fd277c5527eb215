"""``cadence sync SOURCE``: run a collector. Each source adds a module ``sync_<name>.py`` beside
this one that defines ``command``; this group finds them."""

from __future__ import annotations

import click

from cadence.cli import CommandsGroup


class _SyncGroup(CommandsGroup):
    modules = staticmethod(lambda name: name.startswith("sync_"))


@click.group(name="sync", cls=_SyncGroup)
def command() -> None:
    """Pull data from a configured source into the warehouse (incremental; safe to re-run)."""
