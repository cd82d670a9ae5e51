"""`callstream tokens create|revoke|list --practice ODS`: per-practice tokens.

An ``ingest`` token (the default) pushes the practice's events; a ``wallboard`` token
(``--scope wallboard``) only reads the practice's live wallboard. ``--pcn CODE`` or
``--icb CODE`` instead of ``--practice`` makes a wallboard token of a PCN or an ICB: it reads
that organisation's roll-up board (its practices summed), and no single practice's board. A
token is printed once, at creation; only its hash is kept (data_dir/ingest_tokens.json,
permissions 0600). A running worker sees a new or revoked token on the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import click

from streams.ingest.tokens import SCOPES, Level, Scope, TokenError, TokenStore, describe
from streams.settings import get_settings

#: Where each level's wallboard is on the worker's web server.
BOARD_PATHS: dict[Level, str] = {
    "practice": "/live/practices/{code}",
    "pcn": "/live/pcns/{code}",
    "icb": "/live/icbs/{code}",
}


def _whom(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--practice, --pcn, --icb: exactly one (a PCN's or ICB's token is a wallboard one)."""
    fn = click.option("--icb", metavar="CODE", help="ICB code, e.g. QHM (wallboard only).")(fn)
    fn = click.option("--pcn", metavar="CODE", help="PCN code, e.g. U00351 (wallboard only).")(fn)
    return click.option("--practice", metavar="ODS", help="ODS code of the practice, e.g. A81001.")(
        fn
    )


def _organisation(practice: str | None, pcn: str | None, icb: str | None) -> tuple[Level, str]:
    given = [(level, code) for level, code in (("practice", practice), ("pcn", pcn), ("icb", icb))]
    chosen = [(cast(Level, level), code.strip().upper()) for level, code in given if code]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --practice ODS, --pcn CODE or --icb CODE")
    return chosen[0]


def _store() -> TokenStore:
    return TokenStore.for_data_dir(get_settings().data_dir)


@click.group(help="Create, revoke or list ingest and wallboard tokens (per practice, PCN or ICB).")
def command() -> None:
    """Token commands."""


@command.command("create", help="Create a token and print it (shown only once).")
@_whom
@click.option("--label", default="", help="A note to tell tokens apart, e.g. the PBX supplier.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default=None,
    help="ingest: push the practice's events (the default for --practice); wallboard: read "
    "its live wallboard only (the only scope of --pcn and --icb).",
)
def create(
    practice: str | None, pcn: str | None, icb: str | None, label: str, scope: str | None
) -> None:
    level, code = _organisation(practice, pcn, icb)
    chosen = scope or ("ingest" if level == "practice" else "wallboard")
    try:
        token, record = _store().create(code, label, cast(Scope, chosen), level)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(token)
    if record.scope == "wallboard":
        board = BOARD_PATHS[level].format(code=code)
        click.echo(
            f"wallboard token {record.id} for {record.owner} created. It is shown only this "
            f"once: open {board}#token=<token> on the worker's web server (read-only; it "
            "cannot push events).",
            err=True,
        )
        return
    click.echo(
        f"token {record.id} for practice {record.practice} created. It is shown only this once: "
        f"give it to the phone system as 'Authorization: Bearer <token>' for "
        f"POST /v1/practices/{record.practice}/events.",
        err=True,
    )


@command.command("revoke", help="Revoke a token by its id (see `tokens list`).")
@_whom
@click.argument("token_id")
def revoke(practice: str | None, pcn: str | None, icb: str | None, token_id: str) -> None:
    level, code = _organisation(practice, pcn, icb)
    try:
        record = _store().revoke(code, token_id.strip(), level)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token {record.id} of {record.owner} revoked")


@command.command("list", help="List the tokens of a practice, PCN or ICB (never the secrets).")
@_whom
def list_tokens(practice: str | None, pcn: str | None, icb: str | None) -> None:
    level, code = _organisation(practice, pcn, icb)
    try:
        records = _store().records(code, level)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    if not records:
        click.echo(f"no tokens for {describe(level, code)}", err=True)
        return
    click.echo(f"id\t{level}\tscope\tcreated\trevoked\tlabel")
    for r in records:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-"
        created = r.created_at.isoformat(timespec="seconds")
        click.echo(f"{r.id}\t{r.code}\t{r.scope}\t{created}\t{revoked}\t{r.label}")
