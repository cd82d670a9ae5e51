"""The one check that keeps a phone number out of team names (streams/core/phone_numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.phone_numbers import looks_like_phone_number, team_or_unknown


@pytest.mark.parametrize(
    "value",
    [
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "(01632) 960-111",
        "460000",  # a local number dialled without its area code
        "907700900123",  # with an outside-line prefix
        "PJSIP/07700900123@trunk",
        "FMGL-07700900123#",
        "sip:+447700900123@gp.example",
        "+999",
    ],
)
def test_numbers_and_values_holding_one(value: str) -> None:
    assert looks_like_phone_number(value)
    assert team_or_unknown(value) == "unknown"


@pytest.mark.parametrize("value", ["201", "6001", "39999", "reception", "duty_doctor", "s", "0"])
def test_extensions_and_names_are_not_numbers(value: str) -> None:
    assert not looks_like_phone_number(value)
    assert team_or_unknown(f" {value} ") == value


def test_empty_is_unknown() -> None:
    assert not looks_like_phone_number(None) and not looks_like_phone_number("")
    assert team_or_unknown(None) == team_or_unknown("  ") == "unknown"


@given(
    st.from_regex(r"(\+44|0)[1-9][0-9]{8,9}", fullmatch=True),
    st.sampled_from(["", " ", "-", "."]),
    st.text(alphabet="abcPJSIP/@#-", max_size=6),
)
def test_any_uk_number_however_spelt_or_wrapped(number: str, gap: str, wrap: str) -> None:
    spelt = number[:5] + gap + number[5:]
    assert looks_like_phone_number(spelt)
    assert team_or_unknown(wrap + spelt + wrap) == "unknown"
