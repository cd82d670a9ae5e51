"""Alert rules: parsing (errors name the field) and evaluation (one message per incident,
one recovery, the cool-down, the hours a rule applies in). Pure: the clock is given."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from streams.core.alerts import Alerting, AlertRules, load_alert_rules, practice_values
from streams.core.live import Snapshot, Today
from streams.core.rules import load_rules

MONDAY_9 = datetime.fromisoformat("2026-08-03T08:00:00+00:00").timestamp()  # 09:00 in England
SATURDAY_9 = datetime.fromisoformat("2026-08-08T08:00:00+00:00").timestamp()
RULES = AlertRules.model_validate(
    {
        "default": [
            {"name": "queue", "when": "queue_length >= 10", "for": "2m", "recover_after": 60},
            {"name": "silent", "when": "no_events_for >= 20m", "during": "core_hours"},
            {"name": "dead", "when": "dead_letters_10m > 50"},
        ],
        "practices": {"A81001": [{"name": "queue", "when": "queue_length >= 3"}]},
    }
)


def kinds(alerting: Alerting, practice, values: dict, now: float) -> list[str]:
    return [f"{n.rule.name}:{n.kind}" for n in alerting.evaluate(practice, values, now)]


def test_one_message_when_it_has_held_long_enough_and_one_recovery_after_the_cool_down():
    alerting = Alerting(RULES, load_rules(None))
    t = MONDAY_9
    assert kinds(alerting, "B81001", {"queue_length": 12}, t) == []
    assert kinds(alerting, "B81001", {"queue_length": 12}, t + 119) == []
    assert kinds(alerting, "B81001", {"queue_length": 11}, t + 120) == ["queue:firing"]
    assert kinds(alerting, "B81001", {"queue_length": 15}, t + 200) == []  # same incident
    assert kinds(alerting, "B81001", {"queue_length": 2}, t + 300) == []  # clearing ...
    assert kinds(alerting, "B81001", {"queue_length": 10}, t + 330) == []  # ... flickers back
    assert kinds(alerting, "B81001", {"queue_length": 2}, t + 340) == []
    assert kinds(alerting, "B81001", {"queue_length": 2}, t + 399) == []
    assert kinds(alerting, "B81001", {"queue_length": 0}, t + 400) == ["queue:recovered"]
    assert kinds(alerting, "B81001", {"queue_length": 0}, t + 900) == []


def test_a_practice_rule_replaces_the_default_of_its_name():
    alerting = Alerting(RULES, load_rules(None))
    assert kinds(alerting, "A81001", {"queue_length": 3}, MONDAY_9) == ["queue:firing"]
    assert kinds(alerting, "B81001", {"queue_length": 3}, MONDAY_9) == []


def test_silent_feed_only_in_its_hours_and_worker_rules_only_for_the_worker():
    alerting = Alerting(RULES, load_rules(None))
    silent = {"no_events_for": 1500.0}
    assert kinds(alerting, "B81001", silent, SATURDAY_9) == []
    assert kinds(alerting, "B81001", silent, MONDAY_9) == ["silent:firing"]
    assert kinds(alerting, "B81001", {"dead_letters_10m": 99}, MONDAY_9) == []
    assert kinds(alerting, None, {"dead_letters_10m": 51}, MONDAY_9) == ["dead:firing"]
    assert kinds(alerting, None, {"queue_length": 99}, MONDAY_9 + 300) == []


def test_a_feed_quiet_since_closing_is_not_stopped_the_moment_the_practice_opens():
    """Silence under ``during`` hours counts from when they began: at Monday 08:00:05 a
    feed last heard on Friday evening has been silent 5 s of opening time, not 62 hours;
    it is stopped 20 minutes after opening if still silent."""
    friday_18 = datetime.fromisoformat("2026-07-31T17:00:00+00:00").timestamp()
    monday_8 = datetime.fromisoformat("2026-08-03T07:00:00+00:00").timestamp()  # 08:00 BST
    for during in ("core_hours", "opening_hours"):
        rules = AlertRules.model_validate(
            {"default": [{"name": "feed", "when": "no_events_for >= 20m", "during": during}]}
        )
        alerting = Alerting(rules, load_rules(None))
        for later, expected in ((5, []), (20 * 60 - 1, []), (20 * 60, ["feed:firing"])):
            now = monday_8 + later
            assert kinds(alerting, "B81001", {"no_events_for": now - friday_18}, now) == expected
    # A feed that died on Tuesday afternoon: one alert, no recovery at Wednesday's opening.
    alerting = Alerting(
        AlertRules.model_validate(
            {"default": [{"name": "feed", "when": "no_events_for >= 20m", "during": "core_hours"}]}
        ),
        load_rules(None),
    )
    died = datetime.fromisoformat("2026-08-04T13:00:00+00:00").timestamp()  # Tue 14:00 BST
    seen = []
    for now in range(int(died) + 60, int(died) + 26 * 3600, 60):
        seen += [
            f"{n.kind}" for n in alerting.evaluate("B81001", {"no_events_for": now - died}, now)
        ]
    assert seen == ["firing"]
    assert kinds(alerting, "B81001", {"no_events_for": 5.0}, died + 26 * 3600) == []
    assert kinds(alerting, "B81001", {"no_events_for": 5.0}, died + 26 * 3600 + 301) == [
        "feed:recovered"
    ]
    always = Alerting(
        AlertRules.model_validate({"default": [{"name": "f", "when": "no_events_for >= 20m"}]}),
        load_rules(None),
    )
    assert kinds(always, "B81001", {"no_events_for": 3600.0}, monday_8 + 5) == ["f:firing"]


def test_practice_values_from_a_snapshot():
    snapshot = Snapshot(
        practice="A81001",
        as_of=1000.0,
        in_queue=4,
        longest_wait_s=70,
        in_progress=1,
        in_ivr=0,
        today=Today(),
        abandoned_15m=2,
        ended_30m=8,
        missed_30m=2,
        last_event_at=900.0,
        last_received_at=880.0,
    )
    values = practice_values(snapshot)
    assert values == {
        "queue_length": 4,
        "longest_wait_s": 70,
        "abandoned_15m": 2,
        "missed_share_30m": 0.25,
        "no_events_for": 120.0,
    }


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"name": "x", "when": "queue_size > 3"}, "unknown metric 'queue_size'"),
        ({"name": "x", "when": "queue_length >= 3", "for": "soon"}, "'soon' is not a duration"),
        ({"name": "x", "when": "queue_length about 3"}, "is not a condition"),
        ({"name": "x", "when": "queue_length >= 3", "during": "lunch"}, "during"),
        # each would load, then stop the worker's timer (float('1.2.3')) or never fire
        ({"name": "x", "when": "queue_length >= 1.2.3"}, "is not a condition"),
        ({"name": "x", "when": "dead_letters_10m > 5..0"}, "is not a condition"),
        ({"name": "x", "when": "queue_length >= ."}, "is not a condition"),
        ({"name": "x", "when": "queue_length >= 10m"}, "'queue_length' is a count, not a time"),
        ({"name": "x", "when": "queue_length >= " + "9" * 400}, "too large a number"),
        ({"name": "x", "when": "queue_length >= 3", "for": ".inf"}, "is not a duration"),
    ],
)
def test_a_bad_rule_is_refused_naming_what_is_wrong(tmp_path: Path, rule: dict, named: str):
    path = tmp_path / "alerts.yaml"
    path.write_text(f"default:\n  - {rule}\n".replace("'", '"'))
    with pytest.raises(ValueError, match="alert rules") as caught:
        load_alert_rules(path)
    assert named in str(caught.value) and "default" in str(caught.value)


def test_the_packaged_rules_load():
    names = {rule.name for rule in load_alert_rules().default}
    assert names == {"long queue", "many missed", "feed stopped", "dead letters"}


def test_incidents_taken_back_after_a_restart_neither_fire_again_nor_forget_to_recover():
    before = Alerting(RULES, load_rules(None))
    t = MONDAY_9
    assert kinds(before, "A81001", {"queue_length": 5}, t) == ["queue:firing"]
    assert kinds(before, None, {"dead_letters_10m": 60}, t) == ["dead:firing"]

    after = Alerting(RULES, load_rules(None))  # a new process: what the warehouse says is open
    after.restore([("A81001", "queue"), (None, "dead")], worker_too=True)
    assert kinds(after, "A81001", {"queue_length": 5}, t + 30) == []  # not announced again
    assert kinds(after, None, {"dead_letters_10m": 60}, t + 30) == []
    assert kinds(after, "A81001", {"queue_length": 0}, t + 40) == []
    assert kinds(after, "A81001", {"queue_length": 0}, t + 340) == ["queue:recovered"]
    assert kinds(after, None, {"dead_letters_10m": 0}, t + 40) == []
    assert kinds(after, None, {"dead_letters_10m": 0}, t + 340) == ["dead:recovered"]


def test_after_a_rebalance_the_record_decides_the_practices_and_not_the_worker_rules():
    alerting = Alerting(RULES, load_rules(None))
    t = MONDAY_9
    assert kinds(alerting, "A81001", {"queue_length": 5}, t) == ["queue:firing"]
    assert kinds(alerting, None, {"dead_letters_10m": 60}, t) == ["dead:firing"]
    # Another worker held A81001 meanwhile and recovered it; B81002's queue fired there.
    alerting.restore([("B81002", "queue")])
    assert kinds(alerting, "A81001", {"queue_length": 5}, t + 10) == ["queue:firing"]
    assert kinds(alerting, "B81002", {"queue_length": 12}, t + 200) == []
    assert kinds(alerting, None, {"dead_letters_10m": 60}, t + 10) == []  # still its own
    assert kinds(alerting, None, {"dead_letters_10m": 0}, t + 20) == []
    assert kinds(alerting, None, {"dead_letters_10m": 0}, t + 320) == ["dead:recovered"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            "default:\n  - {name: a, when: queue_length >= 3}\n"
            "  - {name: a, when: longest_wait_s > 300, for: 2m}\n",
            "two rules are named 'a'",
        ),
        (
            "practices:\n  A81001:\n    - {name: dl, when: dead_letters_10m > 1}\n",
            "dead_letters_10m is the worker's, not a practice's",
        ),
        ("default: [\n  - name: x\n    when: queue_length >= 3\n", "not valid YAML: "),
    ],
)
def test_rules_that_would_silently_never_fire_are_refused_in_one_line(
    tmp_path: Path, text: str, named: str
) -> None:
    """Two rules of one name shared one incident (the second never fired); a worker metric
    under a practice was dropped unseen; bad YAML was a 7-line parser dump."""
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_alert_rules(path)
    message = str(caught.value)
    assert named in message and "\n" not in message, message
    path.write_bytes(b"\xff\xfedefault: []\n")
    with pytest.raises(ValueError, match=r"alerts.yaml cannot be read: not UTF-8 text \(byte 1\)"):
        load_alert_rules(path)


def test_a_message_gives_times_as_a_person_reads_them():
    """`no_events_for >= 20m (now 223205)` mixed units: times read as times."""
    alerting = Alerting(RULES, load_rules(None))
    [silent] = alerting.evaluate("B81001", {"no_events_for": 1500.0}, MONDAY_9)
    assert silent.text == "B81001: silent: no_events_for >= 20m (now 25m)"
    [queue] = [
        n
        for t in (MONDAY_9, MONDAY_9 + 120)
        for n in alerting.evaluate("B81001", {"queue_length": 11}, t)
        if n.rule.name == "queue"
    ]
    assert queue.text == "B81001: queue: queue_length >= 10 for 2m (now 11)"


def test_the_wallboard_turns_red_where_the_practice_rule_starts():
    """The queue tile was red from 10 whatever the practice's own long-queue rule said."""
    assert RULES.queue_alert_at("A81001") == 3  # its own rule: queue_length >= 3
    assert RULES.queue_alert_at("B81001") == 10  # the default: >= 10
    assert RULES.queue_alert_at(None) == 10  # a PCN's or ICB's board: the default rules
    stricter = AlertRules.model_validate(
        {
            "default": [
                {"name": "q", "when": "queue_length > 4.5"},
                {"name": "w", "when": "queue_length > 7"},
            ]
        }
    )
    assert stricter.queue_alert_at(None) == 5
    assert AlertRules().queue_alert_at("A81001") == 10  # no rule watches the queue
