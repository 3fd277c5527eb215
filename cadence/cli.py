"""The ``cadence`` command: a thin shell over the library.

Each command lives in its own module under ``cadence/commands/`` and exposes ``command`` (a click
command or group); this file finds them, so adding a command touches no shared file. Library code
raises ``CadenceError``s; here they become one clear line on stderr and exit status 1. Whatever is
printed or logged is scrubbed of secrets first (``cadence.core.scrub``).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import click

from cadence.core.config import Config, db_is_configured, load_config, resolve_db_path
from cadence.core.errors import CadenceError
from cadence.core.scrub import install_log_scrubber, scrub
from warehouse.meta import effective_config


@dataclass
class AppContext:
    """Global options, resolved lazily so ``--help`` never reads a config file."""

    db_arg: str | None = None
    config_arg: str | None = None
    quiet: bool = False              # -q: warnings, errors and the final summary only
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_arg)
        return self._config

    @property
    def db_path(self) -> Path:
        return resolve_db_path(self.db_arg, self.config)

    @property
    def effective_config(self) -> Config:
        """The config to compute metrics with (demo teams on the demo database)."""
        return effective_config(self.config, self.db_path)

    @property
    def db_configured(self) -> bool:
        return db_is_configured(self.db_arg, self.config)


pass_app = click.make_pass_decorator(AppContext)


class Day(click.DateTime):
    """A ``YYYY-MM-DD`` option (a datetime at midnight, UTC) inside the dates Cadence computes with
    (``cadence.core.timerange``): every date option of the CLI uses ``DAY``, so one check covers them."""

    name = "day"

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value, param, ctx):
        from cadence.core.timerange import day_option_problem

        day = super().convert(value, param, ctx)
        problem = day_option_problem(day)
        if problem:
            self.fail(problem, param, ctx)
        return day


DAY = Day()


class CommandsGroup(click.Group):
    """A group whose subcommands are the ``command`` objects of cadence.commands modules, loaded on
    first use. ``modules`` picks the module names (``cadence sync``'s commands come from the source
    registry instead, ``cadence/commands/sync.py``)."""

    modules = staticmethod(lambda name: not name.startswith("_"))

    def _load(self) -> None:
        if getattr(self, "_loaded", False):
            return
        import cadence.commands as pkg

        for info in pkgutil.iter_modules(pkg.__path__):
            if not self.modules(info.name):
                continue
            module = importlib.import_module(f"cadence.commands.{info.name}")
            cmd = getattr(module, "command", None)
            if isinstance(cmd, click.Command) and cmd.name not in self.commands:
                self.add_command(cmd)
        self._loaded = True

    def list_commands(self, ctx):
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load()
        return super().get_command(ctx, name)


@click.group(cls=CommandsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_arg", metavar="PATH", envvar="CADENCE_DB",
              help="DuckDB warehouse file (env CADENCE_DB; default: config `database`, else data/cadence.duckdb).")
@click.option("--config", "config_arg", metavar="PATH", envvar="CADENCE_CONFIG",
              help="Configuration file (env CADENCE_CONFIG; default ./cadence.toml if present).")
@click.option("-v", "--verbose", count=True, help="More log lines (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="cadence")
@click.pass_context
def cli(ctx: click.Context, db_arg, config_arg, verbose, quiet) -> None:
    """Cadence: DORA delivery metrics beside cloud cost and utilization."""
    install_log_scrubber()
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("urllib3", "botocore", "boto3", "github", "httpx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.obj = AppContext(db_arg=db_arg, config_arg=config_arg, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: run the CLI, turning CadenceError into one line and exit 1."""
    install_log_scrubber()
    try:
        cli.main(args=argv, prog_name="cadence", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except CadenceError as exc:
        click.echo(scrub(f"Error: {exc}"), err=True)
        return 1
    except Exception:  # a bug: its traceback, scrubbed (it may quote a request), and exit 1 as Python's
        sys.stderr.write(scrub(traceback.format_exc()))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
