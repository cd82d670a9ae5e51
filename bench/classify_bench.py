"""Events per second of validate + pseudonymise + assemble + classify on one core.

Machines are noisy, so the figure comes with a baseline measured in the same run on the
same events: only parsing the JSON lines into ``CallEvent`` with pydantic (the least any
consumer of the file must do). Events are synthetic (pure, seeded, no simulator needed):
realistic call shapes, shuffled within a call, 1 in 20 sent twice. Usage:

    python bench/classify_bench.py [--calls 20000] [--repeat 5]
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from models.events import CallEvent, PseudonymisedEvent
from streams.core.assemble import CallAssembly, group_events
from streams.core.classify import classify_assembly
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import load_rules
from streams.ingest.formats import parse_jsonl_line

KEY = b"bench-key"
_SHAPES = (
    ("answered", 0.62),
    ("transferred", 0.08),
    ("missed", 0.12),
    ("voicemail", 0.04),
    ("ivr", 0.09),
    ("callback", 0.05),
)


def synth_lines(calls: int, seed: int = 1) -> list[str]:
    """JSON lines of ``calls`` calls at 10 practices over one week."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 8, 3, 7, 0, tzinfo=UTC)
    shapes, weights = zip(*_SHAPES, strict=True)
    lines: list[str] = []
    for n in range(calls):
        practice = f"A{10000 + n % 10}"
        call_id = f"call-{n}"
        at = t0 + timedelta(seconds=rnd.uniform(0, 7 * 86400))
        shape = rnd.choices(shapes, weights)[0]
        caller = "withheld" if rnd.random() < 0.05 else f"07700 9{rnd.randrange(10**5):05d}"
        steps: list[tuple[float, dict]] = [(0, {"type": "call_started", "caller": caller})]
        steps.append((8, {"type": "ivr_option", "option": str(rnd.choice("12349"))}))
        if shape == "ivr":
            steps.append((15, {"type": "ivr_divert", "target": "pharmacy"}))
            steps.append((20, {"type": "call_ended"}))
        else:
            wait = rnd.expovariate(1 / 90)
            steps.append((15, {"type": "queue_joined", "queue": "main"}))
            team = {"team": "reception", "role": "care_navigator"}
            if shape in ("answered", "transferred"):
                steps.append((15 + wait, {"type": "answered", **team}))
                if shape == "transferred":
                    steps.append(
                        (60 + wait, {"type": "transferred", "team": "results", "role": "nurse"})
                    )
                steps.append((200 + wait, {"type": "call_ended"}))
            elif shape == "voicemail":
                steps.append((15 + wait, {"type": "voicemail"}))
                steps.append((60 + wait, {"type": "call_ended"}))
            elif shape == "callback":
                steps.append((15 + wait, {"type": "callback_requested"}))
                steps.append((16 + wait, {"type": "call_ended"}))
                steps.append((3600, {"type": "callback_made", "outcome": "answered"}))
            else:
                steps.append((15 + wait, {"type": "call_ended"}))
        events = [
            json.dumps(
                {
                    "practice": practice,
                    "call_id": call_id,
                    "event_id": f"{call_id}-{i}",
                    "at": (at + timedelta(seconds=dt)).isoformat(),
                    **fields,
                }
            )
            for i, (dt, fields) in enumerate(steps)
        ]
        rnd.shuffle(events)
        lines.extend(events)
        if rnd.random() < 0.05:
            lines.append(events[0])
    return lines


def baseline(lines: list[str]) -> int:
    """Only validate each line into a CallEvent."""
    for line in lines:
        CallEvent.model_validate_json(line)
    return len(lines)


def full(lines: list[str]) -> int:
    """What ``callstream classify`` does per event, minus file I/O and output writing."""
    rules = load_rules()
    calls: dict[str, CallAssembly] = {}
    for n, line in enumerate(lines, 1):
        event = parse_jsonl_line(n, line, None).event
        assert event is not None
        safe = pseudonymise(event, KEY)
        assembly = calls.get(safe.key)
        if assembly is None:
            assembly = calls[safe.key] = CallAssembly()
        assembly.add(safe)
    for assembly in calls.values():
        classify_assembly(assembly, rules).model_dump_json()
    return len(lines)


def assemble_and_classify(events: list[PseudonymisedEvent]) -> int:
    """Only the classifier's own work, from events already validated and pseudonymised."""
    rules = load_rules()
    for assembly in group_events(events).values():
        classify_assembly(assembly, rules)
    return len(events)


def best_rates(fns: list[tuple[Callable[[Any], int], Any]], repeat: int) -> list[float]:
    """Events per second of each (function, data), best of ``repeat`` runs taken in turn,
    so a burst of load from elsewhere hits all of them rather than one."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, (fn, data) in enumerate(fns):
            started = time.perf_counter()
            fn(data)
            best[i] = min(best[i], time.perf_counter() - started)
    return [len(data) / b for (_, data), b in zip(fns, best, strict=True)]


@click.command()
@click.option("--calls", default=20000, show_default=True, help="Synthetic calls to classify.")
@click.option("--repeat", default=5, show_default=True, help="Runs of each; the best counts.")
def main(calls: int, repeat: int) -> None:
    """Print events/s of classification and its ratio to pydantic-parsing-only."""
    lines = synth_lines(calls)
    events = [pseudonymise(CallEvent.model_validate_json(line), KEY) for line in lines]
    base, ours, core = best_rates(
        [(baseline, lines), (full, lines), (assemble_and_classify, events)], repeat
    )
    click.echo(f"{len(lines)} events, {calls} calls, best of {repeat}, one core")
    click.echo(f"baseline (pydantic parse only): {base:12,.0f} events/s")
    click.echo(f"parse+pseudonymise+assemble+classify: {ours:6,.0f} events/s")
    click.echo(f"assemble+classify only (events pseudonymised): {core:,.0f} events/s")
    click.echo(
        f"ratio full/baseline: {ours / base:.2f}, assemble+classify/baseline: {core / base:.2f}"
    )


if __name__ == "__main__":
    main()
