"""A ``CALLSTREAM_*`` variable callstream cannot use stops any command with one line that
names the variable and what it needs: no pydantic dump, no internal field name, no value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def callstream(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("CALLSTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=kept | {"CALLSTREAM_DATA_DIR": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_setting_is_named_in_one_line_without_its_value(tmp_path: Path) -> None:
    done = callstream(
        tmp_path,
        "sql",
        "SELECT 1",
        CALLSTREAM_WEB_PORT="port-6066-secret",
        CALLSTREAM_STAFFING_TARGET="nan",
    )
    assert done.returncode == 2, done
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: CALLSTREAM_WEB_PORT: Input should be a valid integer")
    assert "CALLSTREAM_STAFFING_TARGET: Input should be a finite number" in line
    assert "secret" not in line and "validation error" not in line and "pydantic" not in line


def test_settings_in_range_reach_the_command(tmp_path: Path) -> None:
    done = callstream(tmp_path, "sql", "SELECT 1", CALLSTREAM_STAFFING_TARGET="0.9")
    assert done.returncode == 1, done
    assert done.stderr.startswith("Error: no warehouse at"), done.stderr


def test_kafka_bootstrap_is_host_and_port_as_kafka_reads_it() -> None:
    from streams.settings import Settings

    assert Settings(kafka_bootstrap="").kafka_bootstrap is None  # empty: the local broker
    assert Settings(kafka_bootstrap="kafka").kafka_bootstrap == "kafka"  # port 9092
    assert Settings(kafka_bootstrap=" h1:9092, h2:9093 ").kafka_bootstrap == "h1:9092,h2:9093"
    for bad in ("kafka://h:9092", "h:99999", "h:port", "h 1:9092"):
        try:
            Settings(kafka_bootstrap=bad)
        except ValueError as exc:
            assert "expected host:port" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_a_duration_that_is_no_duration_is_refused_naming_it() -> None:
    """0 s of refresh spun `dashboards serve` at full CPU deaf to Ctrl-C; NaN, infinite and
    1e300 seconds reached the code as numbers and failed there without naming the setting."""
    import pytest
    from pydantic import ValidationError

    from streams.settings import Settings

    for name, value, words in (
        ("dashboards_refresh_s", "0", "greater than or equal to 0.5"),
        ("web_header_timeout_s", "-1", "greater than 0"),
        ("call_max_span_s", "nan", "finite number"),
        ("event_max_future_s", "inf", "finite number"),
        ("event_max_future_s", "1e300", "at most 3,153,600,000 seconds"),
        ("web_port", "65535", "less than or equal to 65534"),
        ("cdr_timezone", "Mars/Olympus", "not a known time zone"),
        ("data_dir", "", "empty: unset it for ./data"),
    ):
        with pytest.raises(ValidationError, match=words) as caught:
            Settings(**{name: value})
        assert caught.value.errors()[0]["loc"] == (name,)


def test_a_data_dir_that_is_a_file_is_named_as_the_setting(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    done = callstream(tmp_path, "tokens", "create", "--practice", "A81001")
    assert done.returncode == 0, done.stderr  # the fixture's data dir is a folder
    done = callstream(
        tmp_path, "tokens", "create", "--practice", "A81001", CALLSTREAM_DATA_DIR=str(afile)
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"Error: File exists: {afile}")
    assert "CALLSTREAM_DATA_DIR" in line and "a folder this user can write" in line
