"""The staffing model (streams/core/staffing.py): Erlang C by pyworkforce, checked against
published worked examples, and the sums around it (shift of demand, PCN totals, targets)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from streams.core.nhs_time import same_weekdays
from streams.core.rules import StaffingTarget, load_rules
from streams.core.staffing import QuarterDemand, Target, combine, plan, plan_quarter


def demand(offered: float, talk_s: float | None, **changes: object) -> QuarterDemand:
    """One practice's average quarter hour (15 minutes, the model's interval)."""
    fields = {
        "practice": "A81001",
        "slot_start": time(10, 0),
        "slot": "10:00",
        "days": 8,
        "offered": offered,
        "offered_first": offered,
        "offered_repeat": 0.0,
        "talk_s": talk_s,
        "band_talk_s": talk_s,
        "day_talk_s": talk_s,
        "patience_s": None,
        "observed": None,
    }
    return QuarterDemand(**{**fields, **changes})


# --- published worked examples ------------------------------------------------------------


def test_call_centre_helper_worked_example() -> None:
    """Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
    (callcentrehelper.com); the same case with its figures printed in the README of the
    CRAN package ErlangC 0.1.0 (calculate_agents / erlang_c examples) and in pyworkforce's
    docs: 100 calls in 30 minutes, 180 s handling time, 80% answered within 20 s, 30%
    shrinkage -> 14 agents, 20 with shrinkage; with 14 agents the service level is 0.88835
    and the chance of waiting 0.1741319; with 11 agents 0.3896138 and 0.6821182.
    The model works in quarter hours: 100 calls in 30 minutes are 50 in 15."""
    target = Target(level=0.8, within_s=20, shrinkage=0.3)
    got = plan_quarter(demand(50, 180.0, observed=14.0), target)
    assert (got.needed, got.rostered) == (14, 20)
    assert got.share_in_time_needed == pytest.approx(0.88835, abs=5e-6)
    assert got.share_in_time_observed == pytest.approx(0.88835, abs=5e-6)
    eleven = plan_quarter(demand(50, 180.0, observed=11.0), target)
    assert eleven.share_in_time_observed == pytest.approx(0.3896138, abs=5e-7)
    # The chance of waiting, from the published service level: SL = 1 - P(wait) e^(-(N-A)t/h)
    for agents, p_wait, share in ((14, 0.1741319, got.share_in_time_observed),
                                  (11, 0.6821182, eleven.share_in_time_observed)):  # fmt: skip
        assert 1 - share == pytest.approx(p_wait * math.exp(-(agents - 10) * 20 / 180), abs=1e-6)


def test_turbotab_readme_example() -> None:
    """turbotab (PyPI) README quick start: 25 contacts per 10-minute interval, 180 s handling
    time, 80% within 20 s, 30% shrinkage -> 11 productive agents, 16 scheduled. In quarter
    hours: 37.5 calls."""
    got = plan_quarter(demand(37.5, 180.0), Target(level=0.8, within_s=20, shrinkage=0.3))
    assert (got.needed, got.rostered) == (11, 16)


def test_call_center_tools_readme_example() -> None:
    """call-center-tools (PyPI) README: 1,000 calls an hour, 120 s handling time, 40 agents
    -> service level 93.72% within 20 s, waiting probability 19.07% (its 40 comes from an
    85% occupancy cap the model does not use). In quarter hours: 250 calls."""
    got = plan_quarter(demand(250, 120.0, observed=40.0), Target(level=0.8, within_s=20))
    assert round(got.share_in_time_observed * 100, 2) == 93.72
    waiting = (1 - got.share_in_time_observed) / math.exp(-(40 - 1000 * 120 / 3600) * 20 / 120)
    assert round(waiting * 100, 2) == 19.07


def test_pyworkforce_agrees_with_the_formula_worked_out_here() -> None:
    """A cross-check only: the textbook Erlang C formula, computed independently here, gives
    the service levels the model (pyworkforce) gives, over a spread of practice sizes."""
    for calls in (0.5, 2.0, 6.0, 15.0, 40.0):
        for talk in (60.0, 150.0, 400.0):
            intensity = calls * talk / 900
            row = demand(calls, talk)
            for people in range(math.floor(intensity) + 1, math.floor(intensity) + 6):
                got = plan_quarter(row.model_copy(update={"observed": float(people)}), TARGET)
                expected = _erlang_c_service_level(people, intensity, 120, talk)
                assert got.share_in_time_observed == pytest.approx(expected, abs=1e-9)
            needed = plan_quarter(row, TARGET).needed
            assert _erlang_c_service_level(needed, intensity, 120, talk) >= 0.8
            if needed - 1 > intensity:
                assert _erlang_c_service_level(needed - 1, intensity, 120, talk) < 0.8


@pytest.mark.parametrize(
    ("calls", "talk", "within", "needed"),
    [(7.5, 60.0, 120, 1), (2.0, 240.0, 600, 1), (92.0, 180.0, 120, 21)],
)
def test_needed_is_the_fewest_who_meet_the_target(
    calls: float, talk: float, within: int, needed: int
) -> None:
    """0.5 erlang (7.5 calls of 60 s a quarter hour): one person answers 81.6% within 2
    minutes, so 1 is needed (pyworkforce's own search starts at round(0.5 + 1) = 2)."""
    target = Target(level=0.8, within_s=within, shrinkage=0.3)
    got = plan_quarter(demand(calls, talk), target)
    intensity = calls * talk / 900
    assert got.needed == needed
    assert _erlang_c_service_level(needed, intensity, within, talk) >= 0.8
    if needed - 1 > intensity:
        assert _erlang_c_service_level(needed - 1, intensity, within, talk) < 0.8
    assert got.rostered == math.ceil(round(needed / 0.7, 9))  # 21 / 0.7 is 30, not 31


def _erlang_c_service_level(agents: int, intensity: float, within: float, talk: float) -> float:
    """P(wait <= within) for M/M/agents: 1 - C(agents, A) e^(-(agents - A) within / talk),
    with C from the closed form sum_{k<N} A^k/k! and A^N/N! N/(N-A)."""
    top = intensity**agents / math.factorial(agents) * agents / (agents - intensity)
    bottom = sum(intensity**k / math.factorial(k) for k in range(agents)) + top
    return 1 - top / bottom * math.exp(-(agents - intensity) * within / talk)


TARGET = Target(level=0.8, within_s=120, shrinkage=0.3)


# --- the sums around the model ------------------------------------------------------------


def test_quarter_hours_with_nothing_to_work_from() -> None:
    quiet = plan_quarter(demand(0.0, None, observed=1.0), TARGET)
    assert (quiet.needed, quiet.rostered, quiet.share_in_time_needed) == (0, 0, None)
    untalked = plan_quarter(demand(2.0, None, day_talk_s=None), TARGET)
    assert untalked.needed is None and untalked.share_in_time_observed is None
    fallback = plan_quarter(demand(2.0, None, day_talk_s=150.0), TARGET)
    assert (
        fallback.talk_s == 150.0
        and fallback.needed == plan_quarter(demand(2, 150.0), TARGET).needed
    )
    silent_band = plan_quarter(demand(2.0, 0.0, day_talk_s=150.0), TARGET)
    assert silent_band.talk_s == 150.0 and silent_band.needed == fallback.needed
    nobody = plan_quarter(demand(4.0, 150.0, observed=0.2), TARGET)
    assert nobody.share_in_time_observed == 0.0  # calls and no one answering
    swamped = plan_quarter(demand(40.0, 150.0, observed=3.0), TARGET)  # 6.7 Erlangs, 3 people
    assert swamped.share_in_time_observed == 0.0 and swamped.needed >= 8


def test_moving_demand_online_only_touches_8_to_8_30() -> None:
    rows = [
        demand(20.0, 150.0, slot_start=time(h, m), slot=f"{h:02d}:{m:02d}", observed=3.0)
        for h, m in ((7, 45), (8, 0), (8, 15), (8, 30))
    ]
    targets = {"A81001": TARGET}
    now, moved = plan(rows, targets), plan(rows, targets, shift_demand=0.3)
    assert [r.offered for r in moved] == pytest.approx([20.0, 14.0, 14.0, 20.0])
    assert [m.needed < n.needed for n, m in zip(now, moved, strict=True)] == [
        False, True, True, False
    ]  # fmt: skip
    assert moved[1].share_in_time_observed > now[1].share_in_time_observed
    with pytest.raises(ValueError, match="shift_demand"):
        plan(rows, targets, shift_demand=1.0)


def test_a_pcn_adds_up_its_practices() -> None:
    a = plan_quarter(demand(10.0, 150.0, observed=2.0), TARGET)
    b = plan_quarter(demand(30.0, 150.0, practice="A81002", observed=5.0), TARGET)
    [total] = combine([a, b])
    assert total["practices"] == 2 and total["offered"] == 40.0
    assert total["needed"] == a.needed + b.needed and total["observed"] == 7.0
    weighted = (10 * a.share_in_time_observed + 30 * b.share_in_time_observed) / 40
    assert total["share_in_time_observed"] == pytest.approx(weighted)
    # A practice whose phone system does not say who answered: the PCN's people are
    # unknown, not the other practice's 2 against both practices' 40 calls.
    unsaid = plan_quarter(demand(30.0, 150.0, practice="A81002", observed=None), TARGET)
    [partial] = combine([a, unsaid])
    assert partial["observed"] is None and partial["share_in_time_observed"] is None
    assert partial["needed"] == a.needed + unsaid.needed
    # A practice with no calls in the quarter hour weighs nothing in the shares.
    quiet = plan_quarter(demand(0.0, 150.0, practice="A81002", observed=1.0), TARGET)
    [one] = combine([a, quiet])
    assert one["share_in_time_needed"] == pytest.approx(a.share_in_time_needed)


def test_a_practice_target_from_the_rules_overrides_the_settings(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: t1\nstaffing:\n  A81001: {target: 0.9, within_s: 60}\n")
    own = load_rules(rules).staffing["A81001"]
    assert TARGET.overridden(own) == Target(level=0.9, within_s=60, shrinkage=0.3)
    assert TARGET.overridden(None) == TARGET
    assert TARGET.overridden(StaffingTarget(shrinkage=0.0)).shrinkage == 0.0
    rules.write_text("version: t1\nstaffing:\n  A81001: {target: 1.5}\n")
    with pytest.raises(ValueError, match=r"field 'staffing\.A81001\.target'"):
        load_rules(rules)
    rules.write_text("version: t1\nstaffing:\n  nope: {target: 0.5}\n")
    with pytest.raises(ValueError, match="staffing"):
        load_rules(rules)


def test_the_command_averages_whole_days_only() -> None:
    """Run on a Monday morning beside the worker, the latest Monday is today: its calls so
    far would be averaged as a whole day's, understating every later quarter hour."""
    from streams.outputs.staffing import weekday_dates

    monday = date(2026, 9, 7)
    that_morning = datetime(2026, 9, 7, 7, 3, tzinfo=UTC)  # 08:03 in England
    # 31 August is a bank holiday: left out either way.
    assert weekday_dates("monday", monday, 3, now=that_morning) == [
        date(2026, 8, 17),
        date(2026, 8, 24),
    ]
    assert weekday_dates("monday", monday, 3, now=that_morning + timedelta(days=1)) == [
        date(2026, 8, 24),
        monday,
    ]


def test_same_weekdays_leave_bank_holidays_out() -> None:
    # Monday 31 August 2026 is the summer bank holiday.
    assert same_weekdays(date(2026, 9, 7), 3) == [date(2026, 8, 24), date(2026, 9, 7)]
    assert same_weekdays(date(2026, 8, 12), 2) == [date(2026, 8, 5), date(2026, 8, 12)]


def test_a_target_is_a_share_within_an_hour_everywhere_it_is_set(tmp_path: Path) -> None:
    """The command, the rules file and the settings refuse what Erlang C cannot plan: a
    share that is NaN, and an answer-within time past an hour (it overflowed before)."""
    from click.testing import CliRunner

    from streams.commands.staffing import command
    from streams.core.rules import LONGEST_WITHIN_S
    from streams.settings import Settings

    longest = plan_quarter(demand(40, 180.0), TARGET.model_copy(update={"within_s": 3600}))
    assert longest.needed is not None and longest.share_in_time_needed == pytest.approx(1.0)
    # Fewer people than the load with an hour's target: exp() of a large number overflowed.
    short = plan_quarter(
        demand(200, 120.0, observed=3.0), TARGET.model_copy(update={"within_s": 3600})
    )
    # 26.7 erlangs: 27 people keep up, and with an hour to answer in they meet any target.
    assert short.share_in_time_observed == 0.0 and short.needed == 27
    base = ["--practice", "A81001", "--weekday", "monday"]
    for option, value, error in (
        ("--target", "nan", "'nan' is not a number from 0 to 1"),
        ("--shift-demand", "nan", "'nan' is not a number from 0 to 1"),
        ("--within", "10000000", "10000000 is not in the range 1<=x<=3600"),
    ):
        result = CliRunner().invoke(command, [*base, option, value])
        assert result.exit_code == 2 and error in result.output, result.output
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: t1\nstaffing:\n  A81001: {within_s: 3601}\n")
    with pytest.raises(ValueError, match=r"field 'staffing\.A81001\.within_s'"):
        load_rules(rules)
    with pytest.raises(ValueError, match="staffing_within_s"):
        Settings(staffing_within_s=LONGEST_WITHIN_S + 1)
    assert Settings(staffing_within_s=LONGEST_WITHIN_S).staffing_within_s == LONGEST_WITHIN_S
