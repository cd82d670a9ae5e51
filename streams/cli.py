"""The ``callstream`` command line.

Each command lives in ``streams/commands/<name>.py`` as a click command named ``command``
and is imported only when used, so ``callstream --help`` stays fast and one broken
optional part cannot take the others down. User errors are ``click.ClickException``
(one line, exit 1); anything else unexpected is reported in one line too, with the
traceback only when ``CALLSTREAM_DEBUG`` is set.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path

import click

from streams.core.redact import mask_log_records, masked
from streams.settings import Settings, SettingsError, environment

COMMANDS: dict[str, str] = {
    "broker": "Start, stop or inspect the local Apache Kafka broker.",
    "worker": "Run the streaming pipeline (Faust worker) and the HTTP ingest.",
    "push": "Send a file of call events to Kafka.",
    "classify": "Classify the calls in a file by NHS England's definitions (no Kafka).",
    "simulate": "Generate realistic call events for N practices over a date range.",
    "sql": "Run a read-only SQL query against the warehouse.",
    "export": "Export the NHS CBT publication files from the warehouse.",
    "reference": "Load NHS reference data (ODS practices, PCN mapping, list sizes).",
    "nhs": "Load NHS England's published CBT files (to reconcile and benchmark).",
    "tokens": "Create, revoke or list ingest and wallboard tokens (practice, PCN or ICB).",
    "dashboards": "Build or serve the practice dashboards.",
    "staffing": "How many people each quarter hour needs on the phones, and what-ifs.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        try:
            module = importlib.import_module(f"streams.commands.{cmd_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"streams.commands.{cmd_name}":
                return _unavailable(cmd_name)
            raise
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str) -> click.Command:
    @click.command(name=name, help=COMMANDS[name])
    def missing() -> None:
        raise click.ClickException(f"'callstream {name}' is not part of this build yet.")

    return missing


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="callstream")
@click.option("-v", "--verbose", is_flag=True, help="Log more (to stderr).")
def cli(verbose: bool) -> None:
    """callstream: GP practice telephony analytics by NHS England's CBT definitions.

    Settings are environment variables prefixed CALLSTREAM_ (see the README), e.g.
    CALLSTREAM_DATA_DIR (default ./data) and CALLSTREAM_KAFKA_BOOTSTRAP.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # kafka-python logs every failed connection attempt; the command says in one line
        # what failed and what to do (-v shows the attempts).
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def main() -> None:
    """Console entry point: user errors in one line, never a traceback."""
    run(cli)


def run(command: click.Command) -> None:
    """Run a click command as a program: user errors in one line, never a traceback, and
    nothing that looks like a phone number in a log line or an error."""
    mask_log_records()
    try:
        # Without standalone mode click returns ctx.exit(n)'s code instead of exiting.
        result = command.main(standalone_mode=False)
        sys.exit(result if isinstance(result, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.message = masked(exc.message)
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except SettingsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        if os.environ.get("CALLSTREAM_DEBUG"):
            raise
        click.echo(f"Error: {masked(_os_error(exc))}", err=True)
        sys.exit(1)
    except Exception as exc:  # last resort: one line for people, traceback on request
        if os.environ.get("CALLSTREAM_DEBUG"):
            raise
        click.echo(f"Error: {masked(str(exc))} (set CALLSTREAM_DEBUG=1 for details)", err=True)
        sys.exit(1)


def _os_error(exc: OSError) -> str:
    """A file the system refused, and, when it is callstream's own state, where that lives:
    a data dir that is a file or not writable by this user showed as a bare errno."""
    name = exc.filename
    said = f"{exc.strerror or exc}: {name}" if name is not None else str(exc)
    data = Path(environment().get("data_dir") or Settings.model_fields["data_dir"].default)
    data = data.resolve()
    if name is not None:
        where = Path(os.fsdecode(name)).resolve()
        if where == data or data in where.parents:
            said += (
                f" (callstream keeps its state in CALLSTREAM_DATA_DIR, {data}: it must be a "
                "folder this user can write)"
            )
    return said


if __name__ == "__main__":
    main()
