"""Practice routing rules: the packaged default, a practice's own file, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.rules import Rules, load_rules


def test_default_rules_map_options_and_teams() -> None:
    rules = load_rules()
    assert rules.version
    assert rules.request_type_for("1") == "appointments"
    assert rules.request_type_for(" 2 ") == "prescriptions"
    assert rules.request_type_for("7") is None
    assert rules.request_type_for(None) is None
    assert rules.role_for_team("Duty_Doctor") == "gp"  # case and spacing do not matter
    assert rules.role_for_team("ext-201") == rules.default_role == "care_navigator"
    assert rules.handles("results", "results") is True
    assert rules.handles("reception", "results") is False
    assert rules.handles("nobody", "results") is None
    assert rules.opening_hours["monday"].close.hour == 18


def test_a_practice_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 3\n"  # a bare number is read as the version string "3"
        "ivr_options: {'1': urgent}\n"
        "teams: {Nurses: {role: nurse, handles: [results]}}\n"
        "default_role: admin\n"
    )
    rules = load_rules(path)
    assert rules.version == "3"
    assert rules.request_type_for("1") == "urgent"
    assert rules.role_for_team("nurses") == "nurse"
    assert rules.role_for_team("anyone") == "admin"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ivr_options: {}\n", "field 'version': Field required"),
        ("version: a\nivr_options: {'1': lunch}\n", "field 'ivr_options.1'"),
        ("version: a\nteams: {x: {role: wizard}}\n", "field 'teams.x.role'"),
        ("version: a\ncolour: red\n", "field 'colour'"),
        (
            "version: a\nopening_hours: {monday: {open: '18:00', close: '08:00'}}\n",
            "close must be after open",
        ),
        ("version: [\n", "not valid YAML"),
        ("version: a\nphone_system: {extension_pattern: '['}\n", "not a regular expression"),
        ("- just a list\n", "must be a YAML mapping"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.yaml") as err:
        load_rules(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_divert_numbers_must_be_quoted(tmp_path: Path) -> None:
    """YAML reads 07700123456 unquoted as an octal number: another number, silently."""
    path = tmp_path / "r.yaml"
    path.write_text("version: a\nphone_system: {divert_numbers: {07700123456: pharmacy}}\n")
    with pytest.raises(ValueError, match="write each number in quotes"):
        load_rules(path)
    path.write_text("version: a\nphone_system: {divert_numbers: {'111': nhs111}}\n")
    assert load_rules(path).phone_system.divert_for("111") == "nhs111"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read rules file"):
        load_rules(tmp_path / "nope.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("version: a\nteams: {Réception: reception}\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"latin.yaml: not UTF-8 text \(byte 21\)"):
        load_rules(latin)


def test_rules_built_in_code() -> None:
    assert Rules(version="x").role_for_team("any") == "care_navigator"


def test_extensions_map_to_teams_and_a_phone_number_is_never_a_team(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 4\n"
        "extensions: {201: reception, '6001': care_navigation, '7': '07700900123'}\n"
        "phone_system: {extension_pattern: '^[0-9]{3}$', asterisk_outbound_contexts: [LocalSets]}\n"
    )
    rules = load_rules(path)
    assert rules.team_for("201") == "reception"  # a YAML number key is read as text
    assert rules.team_for(" 6001 ") == "care_navigation"
    assert rules.team_for("202") == "202"  # an extension the rules do not map is its own team
    assert rules.team_for("07700 900123") == "unknown"
    assert rules.team_for("7") == "unknown"  # a mapping to a number is not taken either
    assert rules.team_for(None) == rules.team_for("") == "unknown"
    assert rules.is_extension("202") and rules.is_extension("6001")  # listed, so it is one
    assert not rules.is_extension("2020") and not rules.is_extension("s")
    assert rules.phone_system.asterisk_outbound_contexts == ("LocalSets",)
    assert rules.phone_system.freeswitch_outbound_contexts == ("default",)  # the default


def test_default_phone_system() -> None:
    rules = load_rules()
    assert rules.extensions == {}
    assert [v for v in ("20", "201", "6001", "39999") if rules.is_extension(v)] == [
        "20",
        "201",
        "6001",
        "39999",
    ]
    assert [
        v for v in ("0", "1", "0201", "100000", "07700900123", "s") if rules.is_extension(v)
    ] == []
    assert rules.phone_system.asterisk_outbound_contexts == ("from-internal",)
