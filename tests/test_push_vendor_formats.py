"""Every input format through the whole pipeline: `callstream push --format F` into a real
worker gives in `calls` exactly what `callstream classify --format F` gives for the file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import Worker, callstream, pipeline_env, start_worker, wait_until

from models.classified import ClassifiedCall

pytestmark = pytest.mark.kafka

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "adapters"
FIELDS = list(ClassifiedCall.model_fields)
#: format, fixture file, the ODS code the file's calls are pushed as (vendor files carry none)
CASES = [
    ("asterisk-queue-log", "queue_log", "V00001"),
    ("asterisk-cdr", "Master.csv", "V00002"),
    ("freeswitch-json", "freeswitch_cdrs.ndjson", "V00003"),
    ("csv", "events.csv", "V00004"),
    ("asterisk-cdr", "cdr_freepbx_18.csv", "V00005"),  # Local halves, Latin-1 caller name
    ("asterisk-cdr", "cdr_freepbx_21.csv", "V00006"),  # linkedid, outbound from "phones"
    ("asterisk-cdr", "cdr_custom_Master.csv", "V00007"),  # cdr_custom's stock layout
    ("asterisk-queue-log", "queue_log_nul", "V00008"),  # NUL padding
    ("freeswitch-json", "freeswitch_bridged.ndjson", "V00009"),  # bridged, no dialed_user
]


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("vendor")
    running = start_worker(pipeline_env(kafka_bootstrap, base / "data"), base / "worker.log")
    yield running
    running.stop()


@pytest.mark.parametrize(("fmt", "name", "practice"), CASES, ids=[c[1] for c in CASES])
def test_push_gives_what_classify_gives(
    worker: Worker, fmt: str, name: str, practice: str, tmp_path: Path
) -> None:
    source = tmp_path / name  # push writes its rejects file beside the source
    shutil.copyfile(FIXTURES / name, source)
    args = ["--format", fmt, "--practice", practice]
    classified = callstream(worker.env, "classify", str(source), *args)
    expected = {
        (c.practice, c.call_id): c.model_dump()
        for c in map(ClassifiedCall.model_validate_json, classified.stdout.splitlines())
    }
    assert expected, classified.stderr
    practices = sorted({p for p, _ in expected})
    where = "practice IN (" + ", ".join(f"'{p}'" for p in practices) + ")"

    pushed = callstream(worker.env, "push", str(source), *args)
    assert pushed.returncode == classified.returncode, pushed.stderr  # same rejects, if any
    rejects = tmp_path / f"{name}.rejects.jsonl"
    rejected = len(rejects.read_text().splitlines()) if rejects.exists() else 0
    invalid = [line for line in classified.stderr.splitlines() if line.startswith("line ")]
    assert rejected == len(invalid), (rejected, classified.stderr)

    def stored() -> dict:
        frame = worker.query(f"SELECT {', '.join(FIELDS)} FROM calls WHERE {where}")
        return {
            (row["practice"], row["call_id"]): ClassifiedCall.model_validate(row).model_dump()
            for row in frame.to_dicts()
        }

    wait_until(lambda: stored() == expected, 90, f"{fmt}: calls == classify")
    raw_numbers = worker.query(f"SELECT caller_key FROM calls WHERE {where}")["caller_key"]
    assert not [k for k in raw_numbers.to_list() if k and k.lstrip("+").isdigit()]
