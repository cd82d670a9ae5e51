"""`callstream tokens create|revoke|list --practice ODS`: per-practice tokens.

An ``ingest`` token (the default) pushes the practice's events; a ``wallboard`` token
(``--scope wallboard``) only reads the practice's live wallboard. A token is printed once,
at creation; only its hash is kept (data_dir/ingest_tokens.json,
permissions 0600). A running worker sees a new or revoked token on the next request.
"""

from __future__ import annotations

from typing import cast

import click

from streams.ingest.tokens import SCOPES, Scope, TokenError, TokenStore
from streams.settings import get_settings

_PRACTICE = click.option(
    "--practice", required=True, metavar="ODS", help="ODS code of the practice, e.g. A81001."
)


def _store() -> TokenStore:
    return TokenStore.for_data_dir(get_settings().data_dir)


@click.group(help="Create, revoke or list per-practice ingest and wallboard tokens.")
def command() -> None:
    """Token commands."""


@command.command("create", help="Create a token for one practice and print it (shown only once).")
@_PRACTICE
@click.option("--label", default="", help="A note to tell tokens apart, e.g. the PBX supplier.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default="ingest",
    show_default=True,
    help="ingest: push the practice's events; wallboard: read its live wallboard only.",
)
def create(practice: str, label: str, scope: str) -> None:
    try:
        token, record = _store().create(practice.strip().upper(), label, cast(Scope, scope))
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(token)
    if record.scope == "wallboard":
        click.echo(
            f"wallboard token {record.id} for practice {record.practice} created. It is shown "
            f"only this once: open /live/practices/{record.practice}#token=<token> on the "
            "worker's web server (read-only; it cannot push events).",
            err=True,
        )
        return
    click.echo(
        f"token {record.id} for practice {record.practice} created. It is shown only this once: "
        f"give it to the phone system as 'Authorization: Bearer <token>' for "
        f"POST /v1/practices/{record.practice}/events.",
        err=True,
    )


@command.command("revoke", help="Revoke a token of a practice by its id (see `tokens list`).")
@_PRACTICE
@click.argument("token_id")
def revoke(practice: str, token_id: str) -> None:
    try:
        record = _store().revoke(practice.strip().upper(), token_id.strip())
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token {record.id} of practice {record.practice} revoked")


@command.command("list", help="List a practice's tokens (ids and dates, never the secrets).")
@_PRACTICE
def list_tokens(practice: str) -> None:
    try:
        records = _store().records(practice.strip().upper())
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    if not records:
        click.echo(f"no tokens for practice {practice.strip().upper()}", err=True)
        return
    click.echo("id\tpractice\tscope\tcreated\trevoked\tlabel")
    for r in records:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-"
        created = r.created_at.isoformat(timespec="seconds")
        click.echo(f"{r.id}\t{r.practice}\t{r.scope}\t{created}\t{revoked}\t{r.label}")
