"""Command-line parameter types shared by the commands."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from streams.ingest.formats import FORMATS


class Share(click.FloatRange):
    """A share from 0 to 1, never NaN (which every range comparison lets through);
    ``min_open``/``max_open`` leave 0 or 1 out."""

    name = "share"

    def __init__(self, min_open: bool = False, max_open: bool = False) -> None:
        super().__init__(0, 1, min_open=min_open, max_open=max_open)

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        share = super().convert(value, param, ctx)
        if math.isnan(share):
            self.fail(f"{value!r} is not a number from 0 to 1, e.g. 0.8", param, ctx)
        return share


def format_option() -> Callable[[Any], Any]:
    """``--format`` of the commands that read call-event files (``classify``, ``push``)."""
    return click.option(
        "--format",
        "fmt",
        default="jsonl",
        show_default=True,
        help=f"Input format: {', '.join(sorted(FORMATS))} (docs/formats.md).",
    )


def require_format(fmt: str) -> None:
    """A ClickException naming the formats when ``fmt`` is none of them: checked before any
    work (a file read, a broker found), so a typo is named at once."""
    if fmt not in FORMATS:
        raise click.ClickException(
            f"unknown format {fmt!r}: use one of {', '.join(sorted(FORMATS))}"
        )
