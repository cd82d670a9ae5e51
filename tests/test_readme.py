"""The README is what a new user reads first: it must name every setting and command."""

from __future__ import annotations

from pathlib import Path

from streams.cli import cli
from streams.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    missing = []
    for name, field in Settings.model_fields.items():
        row = next(
            (
                line
                for line in README.splitlines()
                if line.startswith(f"| `CALLSTREAM_{name.upper()}`")
            ),
            None,
        )
        if row is None:
            missing.append(name)
        elif field.default is not None and not isinstance(field.default, Path):
            default = field.default
            if isinstance(default, float) and default.is_integer():
                default = int(default)
            assert f"`{default}`" in row, (name, row)
    assert not missing, f"settings missing from the README table: {missing}"


def test_every_command_is_in_the_commands_table() -> None:
    for name in cli.list_commands(None):  # type: ignore[arg-type]
        assert f"| `callstream {name}" in README, name


def test_quick_start_is_the_two_make_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.split()[0:2] for line in quick.splitlines() if line.startswith("make ")]
    assert commands == [["make", "run"], ["make", "test"]]
