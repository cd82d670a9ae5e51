"""Command-line parameter types shared by the commands."""

from __future__ import annotations

import math

import click


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
