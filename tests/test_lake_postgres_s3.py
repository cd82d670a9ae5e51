"""The warehouse past one machine: DuckLake with its catalog in PostgreSQL (Debian's package)
and its Parquet files in S3 (moto's server standing in for S3/MinIO), all real, on 127.0.0.1.

Every command answers on it exactly as on the local default (SQLite + local files), writers
that commit at once are redone rather than doubled, one worker at a time maintains, and no
credential reaches a message or a file the user did not ask for."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from lake_services import Lake
from pipeline_support import TEST_KEY, callstream, settings_from, wait_until
from warehouse_support import make_call

from models.classified import ClassifiedCall
from streams.warehouse import maintenance, store
from streams.warehouse.store import Warehouse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reference"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLSTREAM_")}
    return {
        **env,
        "CALLSTREAM_DATA_DIR": str(data_dir),
        "CALLSTREAM_PSEUDONYMISATION_KEY": TEST_KEY,
        **extra,
    }


@pytest.fixture
def lake_env(lake: Lake, tmp_path: Path) -> dict[str, str]:
    """Environment of a callstream process using a fresh PostgreSQL + S3 warehouse."""
    return _env(tmp_path / "lake-data", **lake.new_warehouse())


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> list[ClassifiedCall]:
    """Three practices over two days from the simulator: the calls it says are right."""
    directory = tmp_path_factory.mktemp("simulated")
    done = callstream(
        _env(directory),
        "simulate",
        "--practices",
        "3",
        "--start",
        "2026-08-03",
        "--days",
        "2",
        "--out",
        str(directory / "events.jsonl"),
        "--truth",
        str(directory / "truth.jsonl"),
    )
    assert done.returncode == 0, done.stderr
    lines = (directory / "truth.jsonl").read_text().splitlines()
    return [ClassifiedCall.model_validate_json(line) for line in lines]


def _no_secret(lake: Lake, *texts: str) -> None:
    for text in texts:
        for secret in lake.secrets():
            assert secret not in text


def test_every_command_answers_on_postgres_and_s3_as_on_the_local_default(
    lake: Lake, lake_env: dict[str, str], tmp_path: Path, simulated: list[ClassifiedCall]
) -> None:
    local_env = _env(tmp_path / "local-data")
    answers = {}
    for name, env in (("local", local_env), ("lake", lake_env)):
        with Warehouse.open(settings_from(env)) as warehouse:
            assert warehouse.merge_calls(simulated) == len(simulated)
        out = tmp_path / name
        runs = {
            "reference": callstream(
                env, "reference", "load", str(FIXTURES / "gp-reg-pat-prac-map.csv"),
                str(FIXTURES / "gp-reg-pat-prac-all.csv"),
            ),
            "export": callstream(env, "export", "cbt", "--month", "2026-08", "--out", str(out)),
            "sql": callstream(
                env, "sql", "--format", "csv",
                "SELECT * FROM cbt_by_level_period ORDER BY ALL",
            ),
            "hierarchy": callstream(
                env, "sql", "--format", "csv", "SELECT * EXCLUDE (loaded_at) FROM "
                "practice_mappings ORDER BY ALL",
            ),
            "dashboards": callstream(env, "dashboards", "build", "--out", str(out / "site")),
        }  # fmt: skip
        for step, run in runs.items():
            assert run.returncode in (0, 1), (name, step, run.stderr)
            _no_secret(lake, run.stdout, run.stderr)
        assert runs["export"].returncode == 0 and runs["dashboards"].returncode == 0
        assert (out / "site" / "index.html").exists()
        answers[name] = {
            "reference": (runs["reference"].returncode, runs["reference"].stdout),
            "sql": runs["sql"].stdout,
            "hierarchy": runs["hierarchy"].stdout,
            **{p.name: p.read_text() for p in sorted(out.glob("cbt_*.csv"))},
        }
    assert answers["lake"] == answers["local"]
    assert len(answers["lake"]["sql"].splitlines()) > 100
    bucket = lake_env["CALLSTREAM_DATA_PATH"].split("/")[2]
    assert any(key.endswith(".parquet") for key in lake.store.keys(bucket))


@pytest.mark.parametrize("turns", [True, False], ids=["taking turns", "colliding"])
def test_two_writers_at_once_never_lose_or_double_a_call(
    turns: bool,
    lake_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two writers (two DuckDB instances, as two workers) write new calls of the same
    practice and day at the same time. They take turns to commit (commit_turn), so none is
    redone. Without the turns, DuckLake alone would take both blind inserts into
    cbt_daily_facts; the commit fence makes the later commit conflict and be redone."""
    if not turns:
        monkeypatch.setattr(store, "commit_turn", lambda conn, catalog: contextlib.nullcontext())
    settings = settings_from(lake_env)
    Warehouse.open(settings).close()
    batches, size = 8, 25
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(writer: str) -> None:
        try:
            with Warehouse.open(settings) as warehouse:
                start.wait()
                for b in range(batches):
                    calls = [make_call(f"{writer}-{b}-{i}") for i in range(size)]
                    warehouse.merge_calls(calls)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    with caplog.at_level(logging.INFO, logger="streams.warehouse.store"):
        threads = [threading.Thread(target=write, args=(w,)) for w in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not errors, errors
    total = 2 * batches * size
    with Warehouse.open(settings, read_only=True) as reader:
        assert reader.query("SELECT count(*) AS n FROM calls")["n"][0] == total
        assert reader.query("SELECT count(DISTINCT call_id) AS n FROM calls")["n"][0] == total
        facts = reader.query(
            "SELECT indicator, value, count(*) OVER (PARTITION BY indicator) AS copies "
            "FROM cbt_daily_facts ORDER BY indicator"
        ).to_dicts()
        assert {(r["indicator"], r["value"], r["copies"]) for r in facts} == {
            ("CBT001", total, 1), ("CBT002", 0, 1), ("CBT003", total, 1), ("CBT004", 0, 1),
            ("CBT005", 0, 1), ("CBT006", 0, 1), ("CBT007", total, 1),
        }  # fmt: skip
        commits = reader.query("SELECT commits FROM commit_fence")["commits"].to_list()
    # each batch once, and the first open's build of every aggregate
    assert commits == [2 * batches + len(store.AGGREGATES)]
    redone = [r.getMessage() for r in caplog.records if "commit redone" in r.getMessage()]
    if turns:
        assert not redone, redone
    else:
        assert any("conflict" in m.lower() for m in redone), "the writers never met"


def test_one_worker_at_a_time_maintains_and_maintenance_keeps_every_call(
    lake: Lake, lake_env: dict[str, str]
) -> None:
    settings = settings_from(lake_env).model_copy(update={"snapshot_retention_s": 0})
    worker_a = maintenance.Maintainer(settings)
    with Warehouse.open(settings) as writer, Warehouse.open(settings) as worker_b:
        for b in range(6):  # small commits: files to compact, snapshots to expire
            writer.merge_calls([make_call(f"c{b}-{i}") for i in range(20)])
        writer.merge_calls([make_call("c0-0", outcome="missed", talk_s=None)])
        assert maintenance.lease_holder(writer) == ""
        bucket = lake_env["CALLSTREAM_DATA_PATH"].split("/")[2]
        before = lake.store.keys(bucket)
        assert worker_a.round()  # takes the lease and maintains, on an instance of its own
        assert worker_a.warehouse is not None and worker_a.warehouse.conn is not writer.conn
        after = lake.store.keys(bucket)
        assert maintenance.lease_holder(writer) == worker_a.holder
        assert not maintenance.maintain(worker_b, "worker-b", every_s=1, retention_s=0)
        assert not maintenance.take_lease(worker_b, "worker-b", 3600)
        assert worker_a.round()  # the holder renews
        # A lease past its time is free: another worker takes over from a dead holder.
        assert maintenance.take_lease(worker_a.warehouse, worker_a.holder, 0.5)
        wait_until(
            lambda: maintenance.take_lease(worker_b, "worker-b", 3600), 30, "the lease to expire"
        )
        assert maintenance.lease_holder(writer) == "worker-b"
        assert not worker_a.round()
        worker_a.close()
    # The calls' small files were merged and the merged-away ones deleted from the bucket.
    calls_before, calls_after = (
        [k for k in keys if "/classified_calls/" in k and not k.endswith("-delete.parquet")]
        for keys in (before, after)
    )
    # Six batches and the one-call correction: writers do not inline small writes.
    assert len(calls_before) == 7 and len(calls_after) < len(calls_before), calls_after
    assert set(calls_before) - set(calls_after), "no merged-away file was deleted"
    with Warehouse.open(settings, read_only=True) as reader:
        assert reader.query("SELECT count(*) AS n FROM calls")["n"][0] == 120
        missed = reader.query("SELECT value FROM cbt_daily WHERE indicator = 'CBT004'")
        assert missed["value"].to_list() == [1]


def test_attach_script_holds_credentials_only_when_asked(
    lake: Lake, lake_env: dict[str, str]
) -> None:
    with Warehouse.open(settings_from(lake_env)) as warehouse:
        warehouse.merge_calls([make_call(f"c{i}") for i in range(7)])
    duckdb_cli = Path(sys.executable).with_name("duckdb")
    data_dir = Path(lake_env["CALLSTREAM_DATA_DIR"])

    def plain_duckdb(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        path = data_dir / "attach.sql"
        path.write_text(script)
        return subprocess.run(
            [str(duckdb_cli), "-init", str(path), "-csv", "-noheader", "-c",
             "SELECT count(*) FROM calls"],
            capture_output=True, text=True, timeout=60, check=False, cwd="/", env=env,
        )  # fmt: skip

    plain = callstream(lake_env, "sql", "--attach-script")
    assert plain.returncode == 0, plain.stderr
    _no_secret(lake, plain.stdout)
    assert "getenv('CALLSTREAM_CATALOG_PASSWORD')" in plain.stdout
    assert "getenv('CALLSTREAM_S3_SECRET')" in plain.stdout
    assert "postgres_scanner.duckdb_extension" in plain.stdout
    assert "httpfs.duckdb_extension" in plain.stdout and "INSTALL" not in plain.stdout
    done = plain_duckdb(plain.stdout, lake_env)  # the secrets come from the environment
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "7"
    without = {k: v for k, v in lake_env.items() if k not in ("CALLSTREAM_CATALOG_PASSWORD",)}
    assert plain_duckdb(plain.stdout, without).returncode != 0

    full = callstream(lake_env, "sql", "--attach-script", "--with-credentials")
    assert full.returncode == 0, full.stderr
    assert "keep this file private" in full.stdout
    assert all(secret in full.stdout for secret in lake.secrets())
    bare = {k: v for k, v in lake_env.items() if not k.startswith("CALLSTREAM_")}
    done = plain_duckdb(full.stdout, bare)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "7"
    wrong = callstream(lake_env, "sql", "--with-credentials", "SELECT 1")
    assert wrong.returncode == 2 and "goes with --attach-script" in wrong.stderr


def test_a_catalog_that_refuses_is_one_line_that_never_shows_the_password(
    lake: Lake, lake_env: dict[str, str]
) -> None:
    Warehouse.open(settings_from(lake_env)).close()
    wrong = {**lake_env, "CALLSTREAM_CATALOG_PASSWORD": "not-the-password-" + lake.secrets()[0]}
    done = callstream(wrong, "sql", "SELECT count(*) FROM calls")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "password authentication failed" in done.stderr
    assert lake_env["CALLSTREAM_CATALOG"] in done.stderr  # names the catalog
    _no_secret(lake, done.stderr)
    assert "not-the-password" not in done.stderr

    # A password written into CALLSTREAM_CATALOG itself is masked too.
    inline = {k: v for k, v in lake_env.items() if k != "CALLSTREAM_CATALOG_PASSWORD"}
    inline["CALLSTREAM_CATALOG"] = lake_env["CALLSTREAM_CATALOG"] + " password=hunter2-wrong"
    done = callstream(inline, "sql", "SELECT count(*) FROM calls")
    assert done.returncode == 1 and "password=***" in done.stderr
    assert "hunter2" not in done.stderr
    right = {**inline, "CALLSTREAM_CATALOG": lake.postgres.catalog(
        lake_env["CALLSTREAM_CATALOG"].split()[0].split("=")[1], lake.secrets()[0]
    )}  # fmt: skip
    done = callstream(right, "sql", "--format", "json", "SELECT count(*) AS n FROM calls")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 0}]
