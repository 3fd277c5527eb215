"""``cadence sync SOURCE``: run a collector. Each source adds a module ``sync_<name>.py`` beside
this one that defines ``command``; this group finds them."""

from __future__ import annotations

import importlib
import pkgutil

import click


class _SyncGroup(click.Group):
    def _load(self) -> None:
        if getattr(self, "_loaded", False):
            return
        import cadence.commands as pkg

        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("sync_"):
                module = importlib.import_module(f"cadence.commands.{info.name}")
                cmd = getattr(module, "command", None)
                if isinstance(cmd, click.Command):
                    self.add_command(cmd)
        self._loaded = True

    def list_commands(self, ctx):
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load()
        return super().get_command(ctx, name)


@click.group(name="sync", cls=_SyncGroup)
def command() -> None:
    """Pull data from a configured source into the warehouse (incremental; safe to re-run)."""
