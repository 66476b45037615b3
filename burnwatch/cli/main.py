"""``burnwatch`` click group. Commands live one per module and are imported lazily.

Each entry of :data:`COMMANDS` names ``module:attribute``. A command's module is imported
only when that command runs (or when ``--help`` lists it), so ``burnwatch --help`` stays fast
and torch/ultralytics/sentinelhub load only for the commands that need them.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

import click

from burnwatch import __version__
from burnwatch.errors import BurnwatchError

COMMANDS: dict[str, str] = {
    "demo": "burnwatch.cli.demo:demo",
    "scan": "burnwatch.cli.scan:scan",
    "model": "burnwatch.cli.model:model",
    "detect": "burnwatch.cli.detect:detect",
    "drone": "burnwatch.cli.drone:drone",
    "db": "burnwatch.cli.db:db",
    "ingest": "burnwatch.cli.ingest:ingest",
    "case": "burnwatch.cli.case:case",
    "report": "burnwatch.cli.report:report",
    "user": "burnwatch.cli.user:user",
    "serve": "burnwatch.cli.serve:serve",
    "aerosol": "burnwatch.cli.aerosol:aerosol",
    "schedule": "burnwatch.cli.schedule:schedule",
    "reprocess": "burnwatch.cli.reprocess:reprocess",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        present = [
            name
            for name, target in COMMANDS.items()
            if importlib.util.find_spec(target.split(":")[0]) is not None
        ]
        return sorted(present)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        if importlib.util.find_spec(module_name) is None:
            return None
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BurnwatchError as exc:
            # One clear sentence for the user; the traceback only with -v.
            logging.getLogger("burnwatch").debug("error", exc_info=True)
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(2)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(
        level=max(logging.DEBUG, min(logging.CRITICAL, level)),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # urllib3 logs full request URLs at DEBUG, and FIRMS puts its map key in the URL.
    logging.getLogger("urllib3").setLevel(logging.INFO)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="burnwatch")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
def cli(verbose: int, quiet: int) -> None:
    """burnwatch: find open burning from satellites and drones."""
    _configure_logging(verbose, quiet)


def main() -> None:
    cli()
