"""The facts the writer keeps for pages (migration 022) and the layout that lets a read of one
practice-day skip the rest: every fact equals a recount from the calls, replays and moved
calls included, and EXPLAIN ANALYZE shows one practice-day opens one day's files."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from warehouse_support import make_call

from models.classified import ClassifiedCall
from streams.settings import Settings
from streams.warehouse.store import Warehouse

LONDON = ZoneInfo("Europe/London")
OUTCOMES = ("answered", "missed", "ended_in_ivr", "callback_requested")


@pytest.fixture
def warehouse(data_dir: Path) -> Warehouse:
    with Warehouse.open(Settings(data_dir=data_dir)) as opened:
        yield opened


def varied(n: int, day: date, practice: str) -> ClassifiedCall:
    """Calls that differ in outcome, wait, caller (some withheld, some repeat), routing and
    minute of the morning (07:20 to 10:40 local, across slot edges)."""
    outcome = OUTCOMES[n % 4]
    local = datetime(day.year, day.month, day.day, 7, 20, tzinfo=LONDON) + timedelta(minutes=7 * n)
    return make_call(
        f"{practice}-{day}-{n}",
        practice=practice,
        local_date=day,
        started_at=local.astimezone(UTC),
        outcome=outcome,
        wait_s=[0, 45, 130, 400][n % 4] if outcome in ("answered", "missed") else None,
        callback_made=outcome == "callback_requested" and n % 8 == 3,
        callback_answered=True if outcome == "callback_requested" and n % 8 == 3 else None,
        caller_key=None if n % 5 == 0 else f"caller-{n % 3}",
        request_type=[None, "appointments", "results"][n % 3],
        routing={"answered": "right_first_time", "ended_in_ivr": "signposted"}.get(
            outcome, "unrouted"
        ),
    )


def recount(calls: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The facts recomputed in polars from the calls (an independent second formulation)."""
    inbound = calls.filter(pl.col("inbound"))
    out = pl.col("outcome")
    cb = out == "callback_requested"
    day = ["practice", "local_date"]
    practice_day = inbound.group_by(day).agg(
        inbound=pl.len(),
        answered=(out == "answered").sum(),
        ended_in_ivr=(out == "ended_in_ivr").sum(),
        missed=(out == "missed").sum(),
        callback_requested=cb.sum(),
        answered_within_1min=((out == "answered") & (pl.col("wait_s") <= 60)).sum(),
        answered_within_2min=((out == "answered") & (pl.col("wait_s") <= 120)).sum(),
        answered_within_5min=((out == "answered") & (pl.col("wait_s") <= 300)).sum(),
        callbacks_made=(cb & pl.col("callback_made")).sum(),
        callbacks_answered=(cb & pl.col("callback_answered").fill_null(False)).sum(),
        callbacks_not_made=(cb & ~pl.col("callback_made")).sum(),
        withheld_calls=pl.col("caller_key").is_null().sum(),
    )
    local = inbound.with_columns(
        local=pl.col("started_at").dt.convert_time_zone("Europe/London").dt.time()
    ).filter((pl.col("local") >= pl.time(7, 30)) & (pl.col("local") < pl.time(10, 30)))
    slots = (
        local.with_columns(
            slot_start=pl.time(pl.col("local").dt.hour(), pl.col("local").dt.minute() // 15 * 15)
        )
        .group_by([*day, "slot_start"])
        .agg(inbound_calls=pl.len(), **{o: (out == o).sum() for o in OUTCOMES})
    )
    callers = (
        inbound.filter(pl.col("caller_key").is_not_null())
        .sort("started_at", "call_id")
        .group_by([*day, "caller_key"], maintain_order=True)
        .agg(
            attempts=pl.len(),
            answered=(out == "answered").any(),
            first_answered_attempt=(out == "answered").arg_true().first() + 1,
        )
    )
    routing = inbound.group_by([*day, pl.col("request_type").fill_null("unknown")]).agg(
        calls=pl.len(), right_first_time=(pl.col("routing") == "right_first_time").sum()
    )
    return {
        "practice_day_facts": practice_day,
        "peak_slot_facts": slots,
        "caller_day_facts": callers,
        "routing_facts": routing,
    }


def same(facts: pl.DataFrame, expected: pl.DataFrame, keys: list[str]) -> None:
    columns = expected.columns
    left = facts.select(columns).sort(keys)
    right = expected.select(columns).sort(keys)
    assert left.height == right.height > 0
    for name in columns:
        assert left[name].cast(right[name].dtype).to_list() == right[name].to_list(), name


def test_every_fact_equals_a_recount_from_the_calls(warehouse: Warehouse) -> None:
    days = [date(2026, 8, 3), date(2026, 8, 4)]
    batch = [varied(n, d, p) for d in days for p in ("A12345", "B23456") for n in range(30)]
    warehouse.merge_calls(batch[:70])
    warehouse.merge_calls(batch[50:])  # overlapping: a replay changes nothing
    moved = batch[0].model_copy(update={"local_date": days[1], "outcome": "missed"})
    warehouse.merge_calls([moved])  # a correction moves a call to another day
    expected = recount(warehouse.query("SELECT * FROM calls"))
    keys = {
        "practice_day_facts": ["practice", "local_date"],
        "peak_slot_facts": ["practice", "local_date", "slot_start"],
        "caller_day_facts": ["practice", "local_date", "caller_key"],
        "routing_facts": ["practice", "local_date", "request_type"],
    }
    for name, key in keys.items():
        same(warehouse.query(f"SELECT * FROM {name}"), expected[name], key)


def test_one_practice_day_reads_a_small_fraction_of_the_calls(warehouse: Warehouse) -> None:
    days = [date(2026, 8, 3) + timedelta(days=d) for d in range(10)]
    for day in days:  # as the worker writes: a commit per batch, then the upkeep compacts
        warehouse.merge_calls([varied(n, day, f"A{p:05d}") for p in range(10) for n in range(20)])
    warehouse.compact()
    plan = warehouse.query(
        "EXPLAIN ANALYZE SELECT count(*) AS n FROM calls "
        "WHERE practice IN (SELECT unnest($p)) AND local_date IN (SELECT unnest($d))",
        {"p": ["A00003"], "d": [days[4]]},
    )["explain_value"][0]
    files_read = int(re.search(r"Total Files Read:\s*(\d+)", plan).group(1))
    files = warehouse.query("SELECT data_file FROM ducklake_list_files('lake', 'classified_calls')")
    listed = warehouse.query(
        "SELECT file_name AS data_file, num_rows AS n FROM parquet_file_metadata($files)",
        {"files": files["data_file"].to_list()},
    )
    total = int(listed["n"].sum())
    that_day = listed.filter(pl.col("data_file").str.contains(f"local_date={days[4]}"))
    assert files_read == that_day.height >= 1, plan
    assert listed.height >= len(days)
    assert int(that_day["n"].sum()) / total <= 0.1, (that_day, total)


def test_staffing_slot_facts_equal_a_recount_across_midnight(warehouse: Warehouse) -> None:
    """Written day by day, with a replay, a moved call and calls answered and still on the
    phones after midnight, the facts equal a recount and a full rebuild from the calls."""

    def at(day: date, hour: int, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(UTC)

    days = [date(2026, 8, 3), date(2026, 8, 4)]
    batch = []
    for day in days:
        for n in range(24):
            call = varied(n, day, "A12345")
            answered = call.outcome == "answered"
            batch.append(
                call.model_copy(
                    update={
                        "answered_at": call.started_at + timedelta(seconds=call.wait_s or 0)
                        if answered
                        else None,
                        "ended_at": call.started_at + timedelta(minutes=4 + 20 * (n % 3)),
                        "first_agent": f"agent-{n % 4}" if answered else None,
                    }
                )
            )
    late = make_call(
        "late",
        local_date=days[0],
        started_at=at(days[0], 23, 50),
        answered_at=at(days[1], 0, 5),
        ended_at=at(days[1], 0, 50),
        wait_s=900,
        caller_key="caller-1",
    )
    moved = batch[5].model_copy(update={"local_date": days[1]})  # a correction
    for day_calls in (batch[:24], batch[24:], [moved], [late], batch[10:20]):  # then a replay
        warehouse.merge_calls(day_calls)
    facts = warehouse.query("SELECT * FROM staffing_slot_facts")
    assert facts.filter(pl.col("local_date") == days[1])["people"].max() >= 1

    calls = warehouse.query("SELECT * FROM calls WHERE inbound ORDER BY started_at, call_id")
    offered = calls.filter(pl.col("outcome").is_in(["answered", "missed", "callback_requested"]))
    repeat = (
        pl.col("started_at").rank("ordinal").over("practice", "local_date", "caller_key") > 1
    ) & pl.col("caller_key").is_not_null()
    slot = pl.col("started_at").dt.convert_time_zone("Europe/London").dt.truncate("15m")
    expected = (
        calls.with_columns(repeat=repeat, slot=slot)
        .filter(pl.col("outcome").is_in(["answered", "missed", "callback_requested"]))
        .group_by("practice", "local_date", pl.col("slot").dt.time().alias("slot_start"))
        .agg(offered=pl.len(), offered_repeat=pl.col("repeat").sum())
    )
    assert offered.height == int(facts["offered"].sum())
    same(facts.filter(pl.col("offered") > 0), expected, ["practice", "local_date", "slot_start"])
    picked = calls.filter(pl.col("answered_at").is_not_null()).select(
        pl.col("answered_at").dt.convert_time_zone("Europe/London").dt.truncate("15m")
    )
    assert int(facts["picked_up"].sum()) == picked.height

    warehouse.rebuild_aggregates(force=True)
    rebuilt = warehouse.query("SELECT * FROM staffing_slot_facts")
    same(facts, rebuilt, ["practice", "local_date", "slot_start"])


@pytest.mark.parametrize("query", ["scramble_slots", "repeat_callers_daily"])
def test_a_page_of_one_practice_day_scans_only_its_facts(warehouse: Warehouse, query: str) -> None:
    """The 8am scramble's views stack two fact tables; the page's filter must reach both
    scans. With a LEFT JOIN it reached one, and every slot and caller of the month was read
    for each page (0.4 s a page nationally)."""
    days = [date(2026, 8, 3) + timedelta(days=d) for d in range(10)]
    for day in days:
        warehouse.merge_calls([varied(n, day, f"A{p:05d}") for p in range(10) for n in range(20)])
    warehouse.compact()
    sql = (Path(__file__).resolve().parent.parent / "sql/dashboards" / f"{query}.sql").read_text()
    ((_, text),) = warehouse.conn.execute(
        f"EXPLAIN (ANALYZE, FORMAT json) {sql}", {"practices": ["A00003"], "dates": [days[4]]}
    ).fetchall()

    def scans(node: dict) -> list[tuple[str, int]]:
        found = [(node["extra_info"]["Table"], node["operator_cardinality"])] if (
            node.get("operator_name") == "DUCKLAKE_SCAN"
        ) else []  # fmt: skip
        return found + [s for child in node.get("children", []) for s in scans(child)]

    plan = json.loads(text)
    read = scans(plan if isinstance(plan, dict) else plan[0])
    assert {table for table, _ in read} >= {"practice_day_facts"}, read
    for table, rows in read:
        total = warehouse.query(f"SELECT count(*) AS n FROM {table}")["n"][0]
        assert rows <= 0.1 * total, (table, rows, total, read)
