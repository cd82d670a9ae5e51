"""A team is never a phone number, from any adapter (hypothesis).

Each adapter reads generated lines where every place a team can come from (a queue, a
dialled extension, a channel, a transfer target, a FreeSWITCH destination, a CSV cell)
holds an extension, a name or a phone number however spelt. No event may carry a team
holding the digits of a number that was drawn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.rules import load_rules
from streams.ingest.adapters.asterisk_cdr import read_asterisk_cdr
from streams.ingest.adapters.asterisk_queue_log import read_queue_log
from streams.ingest.adapters.canonical_csv import read_canonical_csv
from streams.ingest.adapters.common import AdapterLine
from streams.ingest.adapters.freeswitch_json import read_freeswitch_json

RULES = load_rules()
PRACTICE = "A12345"

_NATIONAL = st.from_regex(r"0[1237][0-9]{8,9}", fullmatch=True)


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """A UK number spelt as phone systems write it: national, +44, 0044, with an outside
    line's 9, with spaces or dashes."""
    national = draw(_NATIONAL)
    spelt = draw(
        st.sampled_from(
            [
                national,
                "+44" + national[1:],
                "0044" + national[1:],
                "9" + national,
                "+44 " + national[1:],
            ]
        )
    )
    gap = draw(st.sampled_from(["", " ", "-"]))
    return spelt[:5] + gap + spelt[5:]


VALUES = st.one_of(
    phone_numbers(),
    st.from_regex(r"[1-9][0-9]{1,3}", fullmatch=True),  # extensions
    st.sampled_from(["reception", "s", "trunk", "nurses", ""]),
)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _check(items: Iterable[AdapterLine], drawn: list[str]) -> None:
    numbers = [_digits(v)[-9:] for v in drawn if len(_digits(v)) >= 10]
    teams = [i.event.team for i in items if i.event is not None and i.event.team is not None]
    for team in teams:
        assert not [n for n in numbers if n in _digits(team)], (team, drawn)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=4))
def test_queue_log(calls: list[tuple[str, str, str]]) -> None:
    lines, drawn = [], []
    for n, (queue, extension, agent) in enumerate(calls):
        t, call = 1785740400 + 100 * n, f"1785740400.{n}"
        queue = queue or "reception"
        lines += [
            f"{t}|{call}|{queue}|NONE|ENTERQUEUE||07700900123|1\n",
            f"{t + 5}|{call}|{queue}|PJSIP/{agent}|RINGNOANSWER|2000\n",
            f"{t + 9}|{call}|{queue}|PJSIP/{agent}|CONNECT|9|{call}9|2\n",
            f"{t + 60}|{call}|{queue}|PJSIP/{agent}|BLINDTRANSFER|{extension}|ctx|9|51|1\n",
        ]
        drawn += [queue, extension, agent]
    _check(read_queue_log(lines, PRACTICE, RULES), drawn)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(VALUES, VALUES, VALUES, st.sampled_from(["Dial", "Queue"]), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_asterisk_cdr(calls: list[tuple[str, str, str, str, bool]]) -> None:
    lines, drawn = [], []
    for n, (src, dst, target, app, local) in enumerate(calls):
        call = f"1785740400.{n}"
        minute = f"2026-08-03 08:{n:02d}"
        channel = f"Local/{target}@from-queue-0000{n};1" if local else f"PJSIP/{target}-0000{n}"
        data = f"{target},t" if app == "Queue" else f"PJSIP/{target}"
        row = [src, dst, "from-trunk", "", "PJSIP/trunk-1", channel, app, data]
        times = [f"{minute}:00", f"{minute}:05", f"{minute}:45", "45", "40", "ANSWERED"]
        lines.append(
            ",".join(f'"{v}"' for v in ["", *row, *times, "DOCUMENTATION", call, "", "", call])
            + ",1\n"
        )
        if local:  # the Local half that dialled the phone
            half = [src, "s", "macro-dial-one", "", channel[:-1] + "2", f"PJSIP/{dst}-9{n}", "Dial"]
            half += [f"PJSIP/{dst}", f"{minute}:01", f"{minute}:05", f"{minute}:45", "44", "40"]
            lines.append(
                ",".join(f'"{v}"' for v in ["", *half, "ANSWERED", "", f"{call}1", "", "", call])
                + ",2\n"
            )
        drawn += [src, dst, target]
    _check(read_asterisk_cdr(lines, PRACTICE, RULES), drawn)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(VALUES, VALUES, VALUES, VALUES, st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_freeswitch_json(calls: list[tuple[str, str, str, str, bool]]) -> None:
    lines, drawn = [], []
    for n, (dialled, bridged, moved_to, queue, in_queue) in enumerate(calls):
        t = 1785740400 + 100 * n
        variables = {
            "uuid": f"call-{n}",
            "caller_id_number": "07700900123",
            "start_epoch": str(t),
            "progress_epoch": str(t + 2),
            "bridge_epoch": str(t + 9),
            "end_epoch": str(t + 90),
            "dialed_user": dialled,
            "bridge_channel": f"sofia/gateway/trunk/{bridged}",
            "DIALSTATUS": "SUCCESS",
        }
        if in_queue:
            variables |= {"cc_queue": f"{queue}@gp", "cc_queue_answered_epoch": str(t + 9)}
        flows = [
            {"profile_index": "1", "caller_profile": {"destination_number": "01632960000"}},
            {
                "profile_index": "2",
                "caller_profile": {"destination_number": moved_to},
                "times": {"profile_created_time": str((t + 30) * 1_000_000)},
            },
        ]
        lines.append(json.dumps({"variables": variables, "callflow": flows}) + "\n")
        drawn += [dialled, bridged, moved_to, queue]
    _check(read_freeswitch_json(lines, PRACTICE, RULES), drawn)


@settings(max_examples=60, deadline=None)
@given(st.lists(VALUES.filter(bool), min_size=1, max_size=4))
def test_canonical_csv(teams: list[str]) -> None:
    lines = ["call_id,type,at,team\n"]
    lines += [f"c{n},answered,2026-08-03T07:00:00Z,{team}\n" for n, team in enumerate(teams)]
    _check(read_canonical_csv(lines, PRACTICE), teams)
