"""Rows per second of the Asterisk CDR adapter on one core, against reading the same CSV.

A synthetic 21-column Master.csv of queue calls answered through Local-channel members
(two rows a call, as FreePBX writes them), calls starting 3 s apart so about 1,200 calls are
held open at once (an hour's grace). The baseline, measured in the same run on the same
lines, is only splitting them with the csv module (the least any reader must do). Usage:

    python bench/cdr_adapter_bench.py [--calls 20000] [--repeat 3]
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from datetime import datetime, timedelta

import click

from streams.core.rules import load_rules
from streams.ingest.adapters.asterisk_cdr import read_asterisk_cdr


def synth_rows(calls: int) -> list[str]:
    """Two rows a call: the member's Local half (picked up at 30 s), then the caller's leg."""
    t0 = datetime(2026, 8, 3, 8, 0)
    rows: list[str] = []
    for n in range(calls):
        start = t0 + timedelta(seconds=3 * n)

        def at(seconds: int, start: datetime = start) -> str:
            return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")

        call, local = f"1785740400.{n}", f"Local/201@from-queue-{n:08x}"
        rows.append(
            f'"","07700{n % 10**6:06d}","s","macro-dial-one","","{local};2",'
            f'"PJSIP/201-{n:08x}","Dial","PJSIP/201","{at(20)}","{at(30)}","{at(32)}",12,2,'
            f'"ANSWERED","DOCUMENTATION","{call}2","","","{call}",2\n'
        )
        rows.append(
            f'"","07700{n % 10**6:06d}","400","ext-queues","","PJSIP/trunk-{n:08x}",'
            f'"{local};1","Queue","400,t","{at(0)}","{at(0)}","{at(200)}",200,200,"ANSWERED",'
            f'"DOCUMENTATION","{call}","","","{call}",1\n'
        )
    return rows


def seconds(fn, lines: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(lines)
        best = min(best, time.perf_counter() - started)
    return best


@click.command()
@click.option("--calls", default=20000, show_default=True)
@click.option("--repeat", default=3, show_default=True)
def main(calls: int, repeat: int) -> None:
    """Print rows per second of the adapter and of the csv baseline, and their ratio."""
    lines = synth_rows(calls)
    rules = load_rules()

    def adapter(rows: list[str]) -> None:
        out = list(read_asterisk_cdr(rows, "A12345", rules, tally=Counter()))
        assert not [o for o in out if o.error] and len(out) == 4 * calls

    def baseline(rows: list[str]) -> None:
        for _ in csv.reader(rows):
            pass

    base = len(lines) / seconds(baseline, lines, repeat)
    full = len(lines) / seconds(adapter, lines, repeat)
    print(f"{len(lines)} rows, {calls} calls, best of {repeat}, one core")
    print(f"baseline (csv split only): {base:>12,.0f} rows/s")
    print(f"asterisk-cdr adapter:      {full:>12,.0f} rows/s")
    print(f"ratio adapter/baseline: {full / base:.3f}")


if __name__ == "__main__":
    main()
