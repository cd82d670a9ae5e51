"""`callstream nhs load`: NHS England's CBT files read back into the warehouse, and the
reconciliation (view cbt_reconciliation, `export cbt --compare`) against our own figures.

One warehouse holding the hand-worked month of test_export_cbt is built and exported once
for the module; every test first loads what it needs (a load replaces what it supersedes,
so each test sets its own starting point)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from analyst_support import build
from click.testing import CliRunner
from test_export_cbt import HAND_CALLS, ZIPS

from streams.cli import cli
from streams.settings import Settings, get_settings
from streams.warehouse.store import Warehouse

MONTH = "2026-08"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    """(data dir, the month exported as zips, the month exported --flat)."""
    root = tmp_path_factory.mktemp("nhs-load")
    data, zips, flat = root / "data", root / "zips", root / "flat"
    data.mkdir()
    build(Settings(data_dir=data), HAND_CALLS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLSTREAM_DATA_DIR", str(data))
        get_settings.cache_clear()
        for out, extra in ((zips, []), (flat, ["--flat"])):
            result = CliRunner().invoke(
                cli, ["export", "cbt", "--month", MONTH, "--out", str(out), *extra]
            )
            assert result.exit_code == 0, result.output
    get_settings.cache_clear()
    yield data, zips, flat


@pytest.fixture
def settings(lake: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("CALLSTREAM_DATA_DIR", str(lake[0]))
    get_settings.cache_clear()
    yield Settings(data_dir=lake[0])
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def zip_paths(directory: Path) -> list[str]:
    return [str(directory / f"{title}.zip") for title in ZIPS.values()]


def query(settings: Settings, sql: str) -> list[dict]:
    with Warehouse.open(settings, read_only=True) as warehouse:
        return warehouse.query(sql).to_dicts()


FIGURES = (
    "SELECT file_kind, count(*) AS figures, sum(ours) AS ours, sum(published) AS published, "
    "count(*) FILTER (WHERE difference <> 0) AS differing FROM cbt_reconciliation "
    "GROUP BY ALL ORDER BY ALL"
)
#: The hand month's figures, per published file: (figures compared, calls in them).
HAND_FIGURES = [
    {"file_kind": "answered", "figures": 4, "ours": 4, "published": 4, "differing": 0},
    {"file_kind": "day_time", "figures": 13, "ours": 19, "published": 19, "differing": 0},
    {"file_kind": "durations", "figures": 14, "ours": 19, "published": 19, "differing": 0},
]


def test_our_export_loaded_back_gives_identical_figures(
    settings: Settings, lake: tuple[Path, Path, Path]
) -> None:
    code, output = run("nhs", "load", *zip_paths(lake[1]))
    assert code == 0, output
    assert "day_time file of August 2026, 8 CSV(s), 13 rows, values totalling 19" in output
    assert query(settings, FIGURES) == HAND_FIGURES
    files = query(
        settings,
        "SELECT file_kind, member, rows, value_total FROM nhs_cbt_published_files ORDER BY ALL",
    )
    assert files == [
        {"file_kind": "answered", "member": "Unmapped", "rows": 1, "value_total": 1},
        {"file_kind": "answered", "member": "Y63", "rows": 3, "value_total": 3},
        {"file_kind": "day_time", "member": "Unmapped", "rows": 3, "value_total": 3},
        {"file_kind": "day_time", "member": "Y63", "rows": 10, "value_total": 16},
        {"file_kind": "durations", "member": "Unmapped", "rows": 3, "value_total": 3},
        {"file_kind": "durations", "member": "Y63", "rows": 11, "value_total": 16},
    ]
    code, output = run("export", "cbt", "--month", MONTH, "--compare")
    assert code == 0, output
    assert "no figure of the 2 practices differs by more than 0" in output


def test_loading_again_replaces_and_the_flat_csvs_read_back_the_same(
    settings: Settings, lake: tuple[Path, Path, Path]
) -> None:
    for _ in range(2):
        assert run("nhs", "load", *zip_paths(lake[1]))[0] == 0
    assert query(settings, FIGURES) == HAND_FIGURES
    flat = sorted(str(p) for p in lake[2].glob("cbt_*.csv"))
    code, output = run("nhs", "load", *flat)
    assert code == 0, output
    assert query(settings, FIGURES) == HAND_FIGURES  # the flat files replaced the zips
    members = query(settings, "SELECT DISTINCT member FROM nhs_cbt_published_files")
    assert members == [{"member": "ALL"}]


def test_a_file_altered_on_purpose_shows_exactly_the_seeded_differences(
    settings: Settings, lake: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    assert run("nhs", "load", *zip_paths(lake[1]))[0] == 0
    title = ZIPS["day_time"]
    with zipfile.ZipFile(lake[1] / f"{title}.zip") as archive:
        text = archive.read(f"{title}_Y63.csv").decode()
    seeded = (
        text.replace("CBT004,08:00-09:59,1.0", "CBT004,08:00-09:59,3.0").replace(  # supplier says 3
            "2026-08-03,Y63,QHM,16C,U00351,A81001,CBT002,08:00-09:59,1.0\n", ""
        )  # lost
    )
    assert seeded.count("\n") == text.count("\n") - 1
    altered = tmp_path / f"{title}_Y63.csv"
    altered.write_text(seeded)
    code, output = run("nhs", "load", str(altered))
    assert code == 0, output
    differing = query(
        settings,
        "SELECT practice, file_kind, indicator, category, ours, published, difference "
        "FROM cbt_reconciliation WHERE difference <> 0 ORDER BY ALL",
    )
    assert differing == [
        {
            "practice": "A81001",
            "file_kind": "day_time",
            "indicator": "CBT002",
            "category": "08:00-09:59",
            "ours": 1,
            "published": 0,
            "difference": 1,
        },
        {
            "practice": "A81001",
            "file_kind": "day_time",
            "indicator": "CBT004",
            "category": "08:00-09:59",
            "ours": 1,
            "published": 3,
            "difference": -2,
        },
    ]
    code, output = run("export", "cbt", "--month", MONTH, "--compare")
    assert code == 0, output
    assert "1 of 2 practices differ by more than 0 (2 figures)." in output
    assert "CBT004" in output and "-2" in output
    code, output = run("export", "cbt", "--month", MONTH, "--compare", "--threshold", "1")
    assert "1 of 2 practices differ by more than 1 (1 figures)." in output
    code, output = run("export", "cbt", "--month", MONTH, "--compare", "--threshold", "2")
    assert "no figure of the 2 practices differs by more than 2" in output


def test_a_line_that_does_not_parse_names_file_line_and_field_and_loads_nothing(
    settings: Settings, lake: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    assert run("nhs", "load", *zip_paths(lake[1]))[0] == 0
    before = query(settings, "SELECT * FROM nhs_cbt_published_files ORDER BY ALL")
    title = ZIPS["durations"]
    with zipfile.ZipFile(lake[1] / f"{title}.zip") as archive:
        names = archive.namelist()
        texts = {name: archive.read(name).decode() for name in names}
    broken = tmp_path / f"{title}.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        for name in names:
            text = texts[name]
            if name.endswith("_Y63.csv"):
                text = text.replace("CBT005,TOTAL,1.0", "CBT005,TOTAL,1.5")
            archive.writestr(name, text)
    good = lake[1] / f"{ZIPS['answered']}.zip"
    code, output = run("nhs", "load", str(good), str(broken))
    assert code == 1
    assert output.strip() == (
        f"Error: {title}.zip/{title}_Y63.csv, line 8: Value '1.5' is not a count "
        "(a whole number, 0 or more)"
    )
    assert query(settings, "SELECT * FROM nhs_cbt_published_files ORDER BY ALL") == before
    not_cbt = tmp_path / "notes.csv"
    not_cbt.write_text("a,b\n1,2\n")
    code, output = run("nhs", "load", str(not_cbt))
    assert code == 1 and "notes.csv, line 1: not a CBT publication file" in output
    two_months = tmp_path / "two.csv"
    flat = (lake[2] / "cbt_2026-08_day_time.csv").read_text()
    two_months.write_text(flat + flat.splitlines()[1].replace("2026-08-03", "2026-09-01") + "\n")
    code, output = run("nhs", "load", str(two_months))
    assert code == 1
    assert "two.csv, line 15: Date is in September 2026, but the file began with August 2026" in (
        output
    )


def test_compare_without_published_files_says_what_to_do(
    settings: Settings, lake: tuple[Path, Path, Path]
) -> None:
    code, output = run("export", "cbt", "--month", "2026-07", "--compare")
    assert code == 1
    assert "no NHS England CBT files for 2026-07 are loaded: `callstream nhs load" in output


def write_zip(path: Path, members: dict[str, bytes], encrypted: bool = False) -> Path:
    """A zip of ``members``; ``encrypted`` marks every member so (zipfile cannot encrypt, so
    the flag bit is set in the local and central headers, as an encrypting tool would)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    if encrypted:
        data = bytearray(path.read_bytes())
        for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = data.find(signature)
            while start >= 0:
                data[start + flag_at] |= 0x1
                start = data.find(signature, start + 4)
        path.write_bytes(bytes(data))
    return path


def zip_members(lake: tuple[Path, Path, Path], kind: str) -> dict[str, bytes]:
    with zipfile.ZipFile(lake[1] / f"{ZIPS[kind]}.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_repeated_row_or_region_is_refused_naming_both(
    settings: Settings, lake: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """The same figure twice would be counted twice: refused, and nothing is loaded."""
    assert run("nhs", "load", *zip_paths(lake[1]))[0] == 0
    before = query(settings, "SELECT * FROM nhs_cbt_published_files ORDER BY ALL")
    title = ZIPS["day_time"]
    members = zip_members(lake, "day_time")
    y63 = f"{title}_Y63.csv"
    text = members[y63].decode()
    repeated = write_zip(
        tmp_path / f"{title}.zip", members | {y63: (text + text.splitlines()[3] + "\n").encode()}
    )
    code, output = run("nhs", "load", str(repeated))
    assert code == 1
    lines = len(text.splitlines())
    assert f"{title}.zip/{y63}, line {lines + 1}: the same row as {title}.zip/{y63}, line 4 (" in (
        output
    )
    assert "a file holds each figure once" in output
    twice = write_zip(tmp_path / f"{title}.zip", members | {f"copy/{y63}": members[y63]})
    code, output = run("nhs", "load", str(twice))
    assert code == 1
    assert f"holds two CSVs of Y63 ({title}.zip/{y63} and {title}.zip/copy/{y63})" in output
    assert query(settings, "SELECT * FROM nhs_cbt_published_files ORDER BY ALL") == before
    # Two shared phone accounts in one PCN are two Unassigned rows alike: both are figures.
    shared = "2026-08-03,Y63,QHM,16C,U00351,Unassigned,CBT001,08:00-09:59,2.0\n"
    accounts = write_zip(tmp_path / f"{title}.zip", members | {y63: (text + shared * 2).encode()})
    code, output = run("nhs", "load", str(accounts))
    assert code == 0, output


def test_a_csv_replaces_only_the_regions_it_has_rows_for(
    settings: Settings, lake: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """A region's CSV saved under any name replaces that region, never the month's others."""
    assert run("nhs", "load", *zip_paths(lake[1]))[0] == 0
    title = ZIPS["day_time"]
    renamed = tmp_path / "day time Y63 from the ICB.csv"
    renamed.write_bytes(zip_members(lake, "day_time")[f"{title}_Y63.csv"])
    code, output = run("nhs", "load", str(renamed))
    assert code == 0, output
    files = query(
        settings,
        "SELECT member, rows FROM nhs_cbt_published_files WHERE file_kind = 'day_time' "
        "ORDER BY ALL",
    )
    assert files == [{"member": "ALL", "rows": 10}, {"member": "Unmapped", "rows": 3}]
    assert query(settings, FIGURES) == HAND_FIGURES


def test_hostile_zips_are_refused_in_bounded_time_and_memory(
    settings: Settings,
    lake: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    title = ZIPS["durations"]
    members = zip_members(lake, "durations")
    y63 = f"{title}_Y63.csv"
    mac = write_zip(
        tmp_path / "mac.zip",
        members | {f"__MACOSX/._{y63}": b"\x00\x05\x16\x07\xff", f"._{y63}": b"\xff\xfe"},
    )
    code, output = run("nhs", "load", str(mac))
    assert code == 0 and "durations file of August 2026, 8 CSV(s)" in output, output
    before = query(settings, "SELECT * FROM nhs_cbt_published_files ORDER BY ALL")
    header = members[y63].decode().splitlines()[0]
    members_sorted = sorted(members)
    cases = {
        "encrypted.zip": (members, True, f"encrypted.zip/{members_sorted[0]}: is encrypted"),
        "bomb.zip": (
            {y63: (header + "\n" + "," * 5000 + "\n").encode()},
            False,
            f"bomb.zip/{y63}, line 2: longer than 4,096 characters",
        ),
        "latin1.zip": (
            {y63: members[y63] + "2026-08-03,Y63,Q,1,U,A81001,CBT001,Café".encode("cp1252")},
            False,
            f"latin1.zip/{y63}, line {len(members[y63].splitlines()) + 1}: not UTF-8 text",
        ),
    }
    for name, (content, encrypted, error) in cases.items():
        code, output = run("nhs", "load", str(write_zip(tmp_path / name, content, encrypted)))
        assert code == 1 and error in output, (name, output)
    monkeypatch.setenv("CALLSTREAM_NHS_MAX_CSV_MB", "1")
    get_settings.cache_clear()
    big = write_zip(tmp_path / "big.zip", {y63: (header + "\n").encode() + b"\n" * 1_100_000})
    code, output = run("nhs", "load", str(big))
    assert code == 1
    assert f"big.zip/{y63}: 1 MB is larger than a CBT CSV can be (CALLSTREAM_NHS_MAX_CSV_MB=1)" in (
        output
    )
    plain = tmp_path / "plain.csv"
    plain.write_bytes((header + "\n").encode() + b"\n" * 1_100_000)
    code, output = run("nhs", "load", str(plain))
    assert code == 1 and "plain.csv: 1 MB is larger than a CBT CSV can be" in output, output
    monkeypatch.delenv("CALLSTREAM_NHS_MAX_CSV_MB")
    get_settings.cache_clear()
    assert query(settings, "SELECT * FROM nhs_cbt_published_files ORDER BY ALL") == before
    assert not list((settings.warehouse_dir / "staging").glob("nhs-load-*"))


def test_a_device_is_read_as_csv_text_in_bounded_memory(tmp_path: Path) -> None:
    """`nhs load /dev/zero`: zipfile's check for a zip read the device to an end that never
    comes (18 GB in 20 s); it is read as CSV text, and its first line is too long. Run with
    2 GB of address space, so the old behaviour fails here rather than taking the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    done = subprocess.run(
        [sys.executable, "-c", "from streams.cli import cli; cli()", "nhs", "load", "/dev/zero"],
        env={**os.environ, "CALLSTREAM_DATA_DIR": str(tmp_path / "data")},
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done
    assert "zero, line 1: longer than 4,096 characters: not a CBT publication file" in (
        done.stderr
    ), done.stderr
