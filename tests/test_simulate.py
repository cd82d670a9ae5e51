"""The simulator: deterministic, realistic against NHS England's figures, and its truth is
exactly what the classifier makes of its events (simulate -> classify == truth)."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, time
from pathlib import Path

import pytest
from staffing_support import on_the_phones

from models.classified import DURATION_BUCKETS, OUTCOMES, WAIT_BUCKETS, ClassifiedCall
from models.events import ODS_PATTERN, WITHHELD_SYNONYMS, CallEvent
from streams.core.assemble import group_events
from streams.core.classify import classify_call
from streams.core.pseudonymise import caller_key, normalise_number, pseudonymise
from streams.core.reference import parse
from streams.core.rules import load_rules
from streams.devtools.simulate import (
    FIRST_EXTENSION,
    LONDON,
    SimulatedCall,
    SimulatedDay,
    SimulationConfig,
    band_of,
    core_category_of,
    event_stream,
    make_practices,
    simulate,
    simulate_days,
    wait_bucket_of,
)
from streams.devtools.simulate_profile import PROFILE_FILE, build_profile, load_profile

KEY = b"test-key-not-secret"
RULES = load_rules()
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
WEEK = SimulationConfig(
    practices=20, start=date(2026, 8, 3), days=7, seed=11, incomplete_rate=0.03, key=KEY
)


@pytest.fixture(scope="module")
def week_days() -> list[SimulatedDay]:
    """A simulated week (Mon 3 - Sun 9 August 2026) of 20 practices, day by day."""
    return list(simulate_days(WEEK, RULES))


@pytest.fixture(scope="module")
def week(week_days: list[SimulatedDay]) -> list[SimulatedCall]:
    """The week's calls in start order (what ``simulate`` yields)."""
    return [call for day in week_days for call in day.calls]


def _config(**changes) -> SimulationConfig:
    base = {"practices": 3, "start": date(2026, 8, 3), "days": 2, "seed": 5, "key": KEY}
    return SimulationConfig(**{**base, **changes})


def _run(config: SimulationConfig) -> tuple[list[dict], list[ClassifiedCall]]:
    calls = list(simulate(config, RULES))
    return list(event_stream(calls, config)), [call.truth for call in calls]


# --- the key test: the classifier agrees with the truth, field by field ---------------------


def test_week_of_20_practices_classifies_exactly_as_the_truth(week: list[SimulatedCall]) -> None:
    events = [pseudonymise(CallEvent.model_validate(e), KEY) for e in event_stream(week, WEEK)]
    assemblies = group_events(events)
    truth = {f"{c.truth.practice}:{c.truth.call_id}": c.truth for c in week}
    assert assemblies.keys() == truth.keys()
    mismatches = []
    for key, assembly in assemblies.items():
        got = classify_call(assembly, RULES).model_dump()
        for name, expected in truth[key].model_dump().items():
            if got[name] != expected:
                mismatches.append(f"{key} {name}: truth {expected!r}, classify {got[name]!r}")
    assert not mismatches, f"{len(mismatches)} mismatches, first: " + "\n".join(mismatches[:20])
    assert len(truth) > 15_000


def test_cli_simulate_then_classify_equals_truth(tmp_path: Path) -> None:
    """Through the commands: noisy and incomplete calls over the October clock change."""
    env = {
        **os.environ,
        "CALLSTREAM_DATA_DIR": str(tmp_path / "data"),
        "CALLSTREAM_PSEUDONYMISATION_KEY": "cli-key",
    }
    truth = tmp_path / "truth.jsonl"
    staffing = tmp_path / "staffing.jsonl"
    simulated = _callstream(
        env, "simulate", "--practices", "3", "--start", "2026-10-24", "--days", "3",
        "--seed", "2", "--truth", str(truth), "--staffing", str(staffing),
        "--duplicate-rate", "0.05",
        "--shuffle-rate", "0.1", "--incomplete-rate", "0.05",
        "--list-sizes", str(tmp_path / "list-sizes.csv"),
    )  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    assert re.search(r"3 practices, 3 day\(s\).*: \d+ calls, \d+ events", simulated.stderr)
    classified = subprocess.run(
        [sys.executable, "-m", "streams.cli", "classify", "-"],
        input=simulated.stdout, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert classified.returncode == 0, classified.stderr
    expected = [json.loads(line) for line in truth.read_text().splitlines()]
    got = {
        (c["practice"], c["call_id"]): c for c in map(json.loads, classified.stdout.splitlines())
    }
    assert len(got) == len(expected) > 300
    for row in expected:
        assert got[(row["practice"], row["call_id"])] == row
    assert {row["local_date"] for row in expected} == {"2026-10-24", "2026-10-25", "2026-10-26"}
    assert any(not row["complete"] for row in expected)
    quarters = [json.loads(line) for line in staffing.read_text().splitlines()]
    assert len(quarters) == 3 * 3 * 96  # practices x days x quarter hours (local clock)
    assert {(q["practice"], q["local_date"]) for q in quarters} == {
        (row["practice"], row["local_date"]) for row in expected
    }
    assert all(q["staff"] >= 1 and q["slot_start"].endswith(("00:00", "15:00", "30:00", "45:00"))
               for q in quarters)  # fmt: skip
    sizes = parse((tmp_path / "list-sizes.csv").read_text())  # as `callstream reference load`
    assert sizes.kind == "list_size" and not sizes.rejects
    assert {row.practice for row in sizes.rows} == {row["practice"] for row in expected}
    assert all(3_000 <= row.list_size <= 20_000 for row in sizes.rows)


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_output_other_seed_other_output() -> None:
    first, truth = _run(_config())
    again, truth_again = _run(_config())
    other, _ = _run(_config(seed=6))
    assert first == again and truth == truth_again
    assert first != other


def test_a_day_is_the_same_whatever_the_run_length() -> None:
    one_day = [c.truth for c in simulate(_config(days=1), RULES)]
    two_days = [c.truth for c in simulate(_config(days=2), RULES)]
    assert two_days[: len(one_day)] == one_day
    assert {t.local_date for t in two_days[len(one_day) :]} == {date(2026, 8, 4)}


# --- valid canonical events ---------------------------------------------------------------


def test_every_event_is_a_valid_canonical_event(week: list[SimulatedCall]) -> None:
    ids = set()
    for call in week:
        for event in call.events:
            parsed = CallEvent.model_validate(event)
            assert parsed.call_id == call.truth.call_id
            ids.add((parsed.practice, parsed.event_id))
        assert call.truth.events == len(call.events)
    assert len(ids) == sum(len(call.events) for call in week)
    practices = {call.truth.practice for call in week}
    assert len(practices) == 20 and all(re.match(ODS_PATTERN, p) for p in practices)
    assert "A81001" in practices  # ODS codes from the epraccur sample come first


def test_times_are_rfc3339_with_offset_and_both_precisions(week: list[SimulatedCall]) -> None:
    stamps = [event["at"] for call in week[:3000] for event in call.events]
    assert all(re.search(r"(Z|[+-]\d\d:\d\d)$", at) for at in stamps)
    assert any(at.endswith("Z") for at in stamps) and any(at.endswith("+01:00") for at in stamps)
    assert any("." in at for at in stamps) and any("." not in at for at in stamps)


# --- realism against the reference -----------------------------------------------------


def test_volume_per_1000_patients_follows_the_weekday_profile(week: list[SimulatedCall]) -> None:
    profile = load_profile()
    patients_k = sum(p.list_size for p in make_practices(WEEK, profile)) / 1000
    assert all(3_000 <= p.list_size <= 20_000 for p in make_practices(WEEK, profile))
    per_day = Counter(c.truth.local_date.strftime("%A") for c in week if c.truth.inbound)
    rate = {day: n / patients_k for day, n in per_day.items()}
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        published = sum(profile.calls_per_1000[day].values())
        assert rate[day] == pytest.approx(published, rel=0.15), day
    working = statistics.mean(rate[d] for d in ("Monday", "Tuesday", "Wednesday", "Thursday"))
    assert 20 < working < 30  # monthly_trend: 24.5-28 per 1,000 per working day
    assert rate["Monday"] > 1.15 * rate["Tuesday"] and rate["Sunday"] < 1
    monday = [c.truth for c in week if c.truth.local_date == date(2026, 8, 3) and c.truth.inbound]
    share = sum(t.time_band == "08:00-09:59" for t in monday) / len(monday)
    assert share == pytest.approx(0.287, abs=0.03)  # design.md: 28.7% of Monday's calls


def test_outcome_mix_by_band_follows_the_reference(week: list[SimulatedCall]) -> None:
    profile = load_profile()
    weekdays = [
        c.truth
        for c in week
        if c.truth.inbound and c.truth.local_date.weekday() in (1, 2, 3, 4)
        and c.truth.time_band in ("08:00-09:59", "10:00-11:59", "14:00-15:59")
    ]  # fmt: skip
    for band in ("08:00-09:59", "10:00-11:59", "14:00-15:59"):
        calls = [t for t in weekdays if t.time_band == band]
        counts = Counter(t.outcome for t in calls)
        for outcome in OUTCOMES:
            published = profile.outcomes["Tuesday-Friday"][band][outcome]
            assert counts[outcome] / len(calls) == pytest.approx(published, abs=0.05), (
                band,
                outcome,
            )
    weekend = Counter(c.truth.outcome for c in week if c.truth.local_date.weekday() >= 5)
    assert weekend["ended_in_ivr"] / sum(weekend.values()) > 0.6


def test_practices_differ_like_the_published_spread(week: list[SimulatedCall]) -> None:
    by_practice: dict[str, Counter] = defaultdict(Counter)
    for call in week:
        if call.truth.inbound:
            by_practice[call.truth.practice][call.truth.outcome] += 1
    answered = [c["answered"] / sum(c.values()) for c in by_practice.values()]
    published = load_profile().practice_spread["answered_share"]
    assert 0.5 * published.std < statistics.stdev(answered) < 1.6 * published.std
    assert statistics.mean(answered) == pytest.approx(0.577, abs=0.06)


def test_talk_durations_follow_the_published_shares(week: list[SimulatedCall]) -> None:
    talks = Counter(c.truth.duration_bucket for c in week if c.truth.duration_bucket)
    shares = load_profile().duration_shares("2026-08")
    for label in DURATION_BUCKETS:
        assert talks[label] / sum(talks.values()) == pytest.approx(shares[label], abs=0.02)


def test_every_bucket_route_and_case_occurs(week: list[SimulatedCall]) -> None:
    truths = [c.truth for c in week]
    assert {t.wait_bucket for t in truths} - {None} == set(WAIT_BUCKETS)
    assert {t.routing for t in truths} == {
        "right_first_time", "transferred", "signposted", "unrouted"
    }  # fmt: skip
    assert {t.divert_target for t in truths} >= {"pharmacy", "nhs111", "online_consultation"}
    assert {t.request_type for t in truths} >= {
        "appointments", "prescriptions", "results", "admin", "urgent", "other", None
    }  # fmt: skip
    assert {t.callback_answered for t in truths if t.outcome == "callback_requested"} == {
        True, False, None
    }  # fmt: skip
    assert any(t.callback_made and t.ended_at and t.callback_wait_s for t in truths)
    assert any(t.routing == "right_first_time" and t.transfers for t in truths)  # same team
    assert any(not t.complete for t in truths) and any(not t.inbound for t in truths)
    outbound = [t for t in truths if not t.inbound]
    assert all(t.outcome is None and t.wait_s is None and t.talk_s is None for t in outbound)
    assert {t.core_category for t in truths} == {"Core_8_10", "Core_10_1830", "Non-Core"}
    types = Counter(event["type"] for c in week for event in c.events)
    assert set(types) == {
        "call_started", "ivr_option", "ivr_divert", "queue_joined", "ringing",
        "callback_requested", "callback_made", "answered", "transferred", "voicemail",
        "call_ended",
    }  # fmt: skip


def test_withheld_callers_and_number_spellings(week: list[SimulatedCall]) -> None:
    inbound = [c for c in week if c.truth.inbound]
    withheld = [c for c in inbound if c.truth.caller_key is None]
    assert 0.05 < len(withheld) / len(inbound) < 0.09
    spellings = {c.events[0]["caller"] for c in withheld}
    assert {"withheld", "anonymous"} <= {s.lower() for s in spellings}
    numbers = [c.events[0]["caller"] for c in inbound if c.truth.caller_key]
    assert any(n.startswith("+44 ") for n in numbers) and any(" " not in n for n in numbers)
    spelled: dict[str, set[str]] = defaultdict(set)
    for number in numbers:
        spelled[normalise_number(number)].add(number)
    assert any(len(variants) >= 3 for variants in spelled.values())
    for call in inbound[:500]:  # the classifier's pseudonym of the number as spelled
        expected = caller_key(KEY, call.truth.practice, call.events[0]["caller"])
        hidden = call.events[0]["caller"].lower() in WITHHELD_SYNONYMS
        assert call.truth.caller_key == (None if hidden else expected)


def test_8am_scramble_and_redialling_until_answered(week: list[SimulatedCall]) -> None:
    morning = [c.truth for c in week if c.truth.time_band == "08:00-09:59" and c.truth.inbound]
    first_10_min = [t for t in morning if t.started_at.astimezone(LONDON).time() < time(8, 10)]
    assert len(first_10_min) / len(morning) > 0.2  # 8% of the band's time
    attempts: dict[tuple, list[ClassifiedCall]] = defaultdict(list)
    for t in sorted(morning, key=lambda t: t.started_at):
        if t.caller_key:
            attempts[(t.practice, t.local_date, t.caller_key)].append(t)
    redialled = [calls for calls in attempts.values() if len(calls) >= 3]
    assert len(redialled) > 50
    got_through = [c for c in redialled if c[-1].outcome == "answered"]
    assert got_through and all(
        all(t.outcome != "answered" for t in calls[:-1]) for calls in got_through
    )


# --- the answering staff: explicit per quarter hour, one call at a time each -------------


def test_staffing_is_explicit_and_each_person_takes_one_call_at_a_time(
    week_days: list[SimulatedDay],
) -> None:
    staff = {
        (q.practice, q.local_date, q.slot_start): q.staff for d in week_days for q in d.staffing
    }
    assert len(staff) == 20 * 7 * 96 and min(staff.values()) >= 1
    assert max(staff.values()) >= 4  # the 8am scramble needs more than a couple of people
    truths = [c.truth for d in week_days for c in d.calls]
    answered = [t for t in truths if t.outcome == "answered"]
    assert all(t.first_agent and t.answered_at for t in answered)
    assert all(t.first_agent is None and t.answered_at is None for t in truths if not t.answered_at)
    calls_in: Counter = Counter()
    by_person: dict[tuple, list[ClassifiedCall]] = defaultdict(list)
    for t in answered:
        key = (t.practice, t.local_date, _quarter(t.answered_at))
        person = int(t.first_agent) - FIRST_EXTENSION
        assert 0 <= person < staff[key], (key, t.first_agent)  # on duty when answering
        calls_in[key] += 1
        by_person[(t.practice, t.first_agent)].append(t)
    for calls in by_person.values():
        calls.sort(key=lambda t: t.answered_at)
        for before, after in zip(calls, calls[1:], strict=False):
            if before.ended_at is not None and before.local_date == after.local_date:
                assert before.ended_at <= after.answered_at, (before.call_id, after.call_id)
    # Call records show who picked up a call or was on one all quarter hour: never more than
    # were on duty, and all of them when there was work for everyone (a call goes to the free
    # person who has answered fewest this quarter hour).
    seen = on_the_phones(truths)
    assert all(len(seen.get(key, ())) <= n for key, n in staff.items())
    busy = [key for key, n in staff.items() if calls_in[key] >= 2 * n]
    assert len(busy) > 1000
    assert sum(len(seen[key]) == staff[key] for key in busy) > 0.99 * len(busy)


def _quarter(at: datetime) -> time:
    local = at.astimezone(LONDON)
    return time(local.hour, local.minute // 15 * 15)


# --- noise: duplicates and out-of-order events ----------------------------------------


def test_duplicates_and_out_of_order_events_lose_nothing() -> None:
    config = _config(days=1, duplicate_rate=0.05, shuffle_rate=0.1)
    calls = list(simulate(config, RULES))
    stream = list(event_stream(calls, config))
    clean = [event for call in calls for event in call.events]
    ids = Counter(event["event_id"] + event["practice"] for event in stream)
    assert set(ids) == {event["event_id"] + event["practice"] for event in clean}
    duplicates = len(stream) - len(clean)
    assert duplicates == pytest.approx(0.05 * len(clean), rel=0.35)
    times = [datetime.fromisoformat(event["at"]) for event in stream]
    late = sum(later < earlier for earlier, later in zip(times, times[1:], strict=False))
    assert late > 0.03 * len(clean)
    quiet = _config(days=1, duplicate_rate=0, shuffle_rate=0)
    ordered = [datetime.fromisoformat(e["at"]) for e in event_stream(simulate(quiet, RULES), quiet)]
    assert ordered == sorted(ordered)


# --- the NHS time rules as the simulator means them -----------------------------------


def test_bands_buckets_and_core_hours_at_their_boundaries() -> None:
    assert band_of(time(18, 29, 59)) == "18:00-18:29" and band_of(time(18, 30)) == "18:30-23:59"
    assert band_of(time(0, 0)) == "00:00-05:59" and band_of(time(7, 59, 59)) == "06:00-07:59"
    assert [wait_bucket_of(s) for s in (0, 1, 30, 31, 240, 241, 300, 301)] == [
        "0", "1_30", "1_30", "31_60", "211_240", "241_300", "241_300", ">300"
    ]  # fmt: skip
    assert core_category_of(datetime(2026, 8, 3, 9, 59, 59, tzinfo=LONDON)) == "Core_8_10"
    assert core_category_of(datetime(2026, 8, 3, 18, 29, 59, tzinfo=LONDON)) == "Core_10_1830"
    assert core_category_of(datetime(2026, 8, 31, 9, 0, tzinfo=LONDON)) == "Non-Core"  # holiday
    assert core_category_of(datetime(2026, 12, 28, 9, 0, tzinfo=LONDON)) == "Non-Core"  # subst.
    assert core_category_of(datetime(2026, 8, 8, 9, 0, tzinfo=LONDON)) == "Non-Core"  # Sat


def test_bank_holiday_is_quiet_and_closed() -> None:
    config = _config(practices=5, start=date(2026, 8, 31), days=2)
    truths = [c.truth for c in simulate(config, RULES)]
    holiday = [t for t in truths if t.local_date == date(2026, 8, 31)]
    tuesday = [t for t in truths if t.local_date == date(2026, 9, 1)]
    assert len(holiday) < 0.3 * len(tuesday)
    assert {t.core_category for t in holiday} == {"Non-Core"}
    assert all(t.inbound for t in holiday)  # the practice makes no calls when closed


# --- the packaged profile and the command -------------------------------------------


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/reference is not beside the repo")
def test_packaged_profile_is_built_from_the_reference_csvs() -> None:
    assert build_profile(REFERENCE) == load_profile(PROFILE_FILE)


def test_cli_help_and_errors(tmp_path: Path) -> None:
    env = {**os.environ, "CALLSTREAM_DATA_DIR": str(tmp_path)}
    shown = _callstream(env, "simulate", "--help")
    assert shown.returncode == 0 and "--duplicate-rate" in shown.stdout
    bad = _callstream(env, "simulate", "--start", "3 August", "--days", "1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--start" in bad.stderr
    (tmp_path / "a-file").write_text("")
    unwritable = _callstream(
        env, "simulate", "--start", "2026-08-03", "--practices", "1",
        "--out", str(tmp_path / "a-file" / "events.jsonl"),
    )  # fmt: skip
    assert unwritable.returncode == 1 and "Traceback" not in unwritable.stderr
    assert "cannot write" in unwritable.stderr
    for args, error in (
        (["--duplicate-rate", "nan"], "'nan' is not a number from 0 to 1"),
        (["--out", str(tmp_path / "x"), "--truth", str(tmp_path / "x")], "--out and --truth name"),
        (["--truth", "-"], "--out and --truth name the same file (standard output)"),
        (["--start", "9999-12-31", "--days", "2"], "run past the year 9999"),
    ):
        start = [] if "--start" in args else ["--start", "2026-08-03"]
        refused = _callstream(env, "simulate", *start, "--practices", "1", *args)
        assert refused.returncode == 2, refused.stderr
        [line] = refused.stderr.strip().splitlines()[-1:]
        assert error in line and "Traceback" not in refused.stderr, refused.stderr
    assert not (tmp_path / "x").exists()


def _callstream(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_a_reader_that_stops_early_ends_it_quietly(tmp_path: Path) -> None:
    """`callstream simulate | head`: the reader stopping is no error to report (it printed
    'Error: cannot write to standard output: Broken pipe'); click exits 1 quietly."""
    env = {
        **os.environ,
        "CALLSTREAM_DATA_DIR": str(tmp_path),
        "CALLSTREAM_PSEUDONYMISATION_KEY": "k",
    }
    command = [sys.executable, "-m", "streams.cli", "simulate", "--start", "2026-08-03"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as simulate:
        assert simulate.stdout is not None and simulate.stderr is not None
        first = simulate.stdout.readline()
        simulate.stdout.close()
        errors = simulate.stderr.read()
        code = simulate.wait(timeout=120)
    assert CallEvent.model_validate_json(first).practice
    assert code == 1 and "Error" not in errors and "Traceback" not in errors, (code, errors)
