"""NHS reference files -> practice dimension: parsing (pure), loading, versions, the CLI."""

from __future__ import annotations

import codecs
import csv
import io
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import cli
from streams.core import reference
from streams.core.reference import Kind, ReferenceError
from streams.settings import Settings, get_settings
from streams.warehouse.store import Warehouse

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
EPRACCUR = Path("/work/shared/reference/ods/epraccur_sample.csv")
MAPPING = FIXTURES / "gp-reg-pat-prac-map.csv"
LIST_SIZES = FIXTURES / "gp-reg-pat-prac-all.csv"

EPRACCUR_ROW = (
    '"B82005","PRIORY MEDICAL GROUP","Y63","QWO","CORNLANDS ROAD","ACOMB","","YORK","",'
    '"YO24 3WX","19740401","","ACTIVE","B","03Q","20200401","","01904 781423","","","",'
    '"1","","03Q","","RO76",""'
)


def _epraccur_text() -> str:
    if EPRACCUR.exists():
        return EPRACCUR.read_text(encoding="utf-8")
    return EPRACCUR_ROW + "\n"


def test_kind_is_detected_from_the_first_line() -> None:
    assert reference.detect_kind(EPRACCUR_ROW) is Kind.epraccur
    assert reference.detect_kind(MAPPING.read_text()) is Kind.mapping
    assert reference.detect_kind(LIST_SIZES.read_text()) is Kind.list_size
    with pytest.raises(ReferenceError, match="not a known NHS reference file"):
        reference.detect_kind("date,calls\n2026-08-01,3\n")


def test_epraccur_row_fields() -> None:
    extract = reference.parse(EPRACCUR_ROW + "\n", date(2026, 8, 1))
    assert extract.kind is Kind.epraccur and extract.rejects == []
    (row,) = extract.rows
    assert row.model_dump() == {
        "practice": "B82005",
        "name": "PRIORY MEDICAL GROUP",
        "region_code": "Y63",
        "icb_code": "QWO",
        "sub_icb_code": "03Q",
        "postcode": "YO24 3WX",
        "open_date": date(1974, 4, 1),
        "close_date": None,
        "status": "ACTIVE",
        "role_code": "RO76",
    }


def test_epraccur_needs_an_extract_date_from_the_name_or_the_caller() -> None:
    with pytest.raises(ReferenceError, match="--extract-date"):
        reference.parse(EPRACCUR_ROW)
    assert reference.date_from_name("epraccur_20260801.csv") == date(2026, 8, 1)
    assert reference.date_from_name("epraccur-2026-08-01.csv") == date(2026, 8, 1)
    assert reference.date_from_name("epraccur.csv") is None


def test_epraccur_bad_rows_are_rejected_with_the_field() -> None:
    short = '"B82006","SHORT ROW","Y63"'
    bad_date = EPRACCUR_ROW.replace('"19740401"', '"1974-04-01"').replace("B82005", "B82007")
    bad_code = EPRACCUR_ROW.replace("B82005", "b8200")
    text = "\n".join([EPRACCUR_ROW, short, bad_date, bad_code]) + "\n"
    extract = reference.parse_epraccur(text, date(2026, 8, 1))
    assert [row.practice for row in extract.rows] == ["B82005"]
    reasons = [(r.line, r.field) for r in extract.rejects]
    assert reasons == [(2, None), (3, "column 11 (open_date)"), (4, "column 1 (practice)")]
    assert "3 columns" in extract.rejects[0].reason
    assert "'1974-04-01' is not YYYYMMDD" in extract.rejects[1].reason


def test_mapping_file() -> None:
    extract = reference.parse(MAPPING.read_text())
    assert extract.kind is Kind.mapping
    assert extract.extract_date == date(2026, 8, 1)
    assert [row.practice for row in extract.rows] == ["A81001", "A81002", "A81004", "A81005"]
    first = extract.rows[0]
    assert (first.pcn_code, first.sub_icb_code, first.icb_code, first.region_code) == (
        "U00351",
        "16C",
        "QHM",
        "Y63",
    )
    assert extract.rows[2].pcn_name == "MIDDLESBROUGH WEST, ACKLAM PCN"
    (reject,) = extract.rejects
    assert (reject.line, reject.field) == (6, "PRACTICE_CODE")
    assert "Y0279" in reject.reason


@pytest.mark.parametrize(
    ("pcn", "icb"),
    [('U1" onmouseover="alert(1)', "QHM"), ("U00351", "../../../../tmp/escaped")],
)
def test_an_organisation_code_that_is_not_letters_and_digits_is_rejected(pcn, icb) -> None:
    """Codes name dashboard pages and folders: a quote or a path is refused at the door."""
    lines = MAPPING.read_text().splitlines(keepends=True)
    cells = next(csv.reader([lines[1]]))
    cells[5], cells[11] = pcn, icb
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    extract = reference.parse(lines[0] + out.getvalue())
    assert extract.rows == []
    (reject,) = extract.rejects
    assert reject.line == 2 and reject.field == ("PCN_CODE" if pcn != "U00351" else "ICB_CODE")


def test_list_sizes_keep_totals_skip_breakdowns_reject_bad_numbers() -> None:
    extract = reference.parse(LIST_SIZES.read_text())
    assert extract.kind is Kind.list_size
    assert {row.practice: row.list_size for row in extract.rows} == {
        "A81001": 4210,
        "A81002": 12604,
        "A81004": 10125,
    }
    assert extract.skipped == 1
    (reject,) = extract.rejects
    assert (reject.line, reject.field) == (6, "NUMBER_OF_PATIENTS")


def test_extract_dates_in_nhs_and_iso_forms() -> None:
    assert reference.parse_extract_date("01AUG2026") == date(2026, 8, 1)
    assert reference.parse_extract_date("01Aug2026") == date(2026, 8, 1)
    assert reference.parse_extract_date("2026-08-01") == date(2026, 8, 1)
    assert reference.parse_extract_date("01/08/2026") == date(2026, 8, 1)
    with pytest.raises(ValueError, match="not a date"):
        reference.parse_extract_date("August")


def test_a_file_mixing_extract_dates_is_refused() -> None:
    text = LIST_SIZES.read_text().replace(
        "01AUG2026,GP,16C,E38000247,A81004", "01JUL2026,GP,16C,E38000247,A81004"
    )
    with pytest.raises(ReferenceError, match="mixes extract dates"):
        reference.parse(text)


def _hierarchy(settings: Settings) -> dict[str, dict[str, object]]:
    with Warehouse.open(settings, read_only=True) as warehouse:
        frame = warehouse.query("SELECT * FROM practice_hierarchy ORDER BY practice")
    return {row["practice"]: row for row in frame.to_dicts()}


def test_load_command_builds_the_hierarchy_and_keeps_versions(data_dir: Path) -> None:
    runner = CliRunner()
    epraccur = data_dir.parent / "epraccur_20260801.csv"
    epraccur.write_text(_epraccur_text(), encoding="utf-8")
    result = runner.invoke(cli, ["reference", "load", str(epraccur), str(MAPPING), str(LIST_SIZES)])
    # Rejected lines make the command fail after loading the valid ones, naming the file.
    assert result.exit_code == 1, result.output
    assert "rejected" in result.output
    rejects = sorted((data_dir / "rejects" / "reference").glob("*.csv"))
    assert [p.name for p in rejects] == [
        "gp-reg-pat-prac-all.list_size.2026-08-01.rejects.csv",
        "gp-reg-pat-prac-map.mapping.2026-08-01.rejects.csv",
    ]
    assert "NUMBER_OF_PATIENTS" in rejects[0].read_text()

    settings = Settings(data_dir=data_dir)
    rows = _hierarchy(settings)
    a81002 = rows["A81002"]
    assert a81002["pcn_code"] == "U00351"
    assert a81002["icb_code"] == "QHM" and a81002["region_code"] == "Y63"
    assert a81002["list_size"] == 12604
    assert a81002["mapping_extract_date"] == date(2026, 8, 1)
    if EPRACCUR.exists():
        # In epraccur only: codes from ODS, no PCN, no list size.
        assert rows["A81003"]["pcn_code"] is None and rows["A81003"]["icb_code"] == "QHM"
        assert rows["A81003"]["status"] == "INACTIVE"

    # A newer mapping moves A81002 to another PCN; the old extract stays, the view moves.
    newer = data_dir.parent / "map-sep.csv"
    newer.write_text(
        MAPPING.read_text()
        .replace("01AUG2026", "01SEP2026")
        .replace(
            "A81002,QUEENS PARK MEDICAL CENTRE,TS18 2AW,U00351",
            "A81002,QUEENS PARK MEDICAL CENTRE,TS18 2AW,U99999",
        ),
        encoding="utf-8",
    )
    runner.invoke(cli, ["reference", "load", str(newer)])
    runner.invoke(cli, ["reference", "load", str(newer)])  # a reload changes nothing
    assert _hierarchy(settings)["A81002"]["pcn_code"] == "U99999"
    with Warehouse.open(settings, read_only=True) as warehouse:
        extracts = warehouse.query(
            "SELECT extract_date, practices, latest FROM reference_extracts "
            "WHERE kind = 'mapping' ORDER BY extract_date"
        ).rows()
    assert extracts == [(date(2026, 8, 1), 4, False), (date(2026, 9, 1), 4, True)]


def test_load_command_errors_are_one_line(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    undated = tmp_path / "epraccur.csv"
    undated.write_text(EPRACCUR_ROW + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["reference", "load", str(undated)])
    assert result.exit_code == 1
    assert "--extract-date" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["reference", "load", "--extract-date", "2026-08-01", str(undated)])
    assert result.exit_code == 0, result.output
    assert "epraccur extract 2026-08-01, 1 practices loaded, 0 rejected" in result.output


WRITER = """
import sys, time
sys.path.insert(0, {tests!r})
from analyst_support import call
from streams.settings import Settings
from streams.warehouse.store import Warehouse
with Warehouse.open(Settings(data_dir={data!r})) as warehouse:
    print("open", flush=True)
    for batch in range(15):
        warehouse.merge_calls([call(f"w{{batch}}-{{i}}", "2026-08-03 08:05") for i in range(20)])
        time.sleep(0.05)
"""


def test_reference_loads_while_the_worker_writes_calls(data_dir: Path) -> None:
    with Warehouse.open(Settings(data_dir=data_dir)):
        pass  # create the warehouse first, as a running worker would have
    tests = str(Path(__file__).resolve().parent)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(tests=tests, data=str(data_dir))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        for month in ("01JUL2026", "01AUG2026", "01SEP2026"):
            mapping = data_dir.parent / f"map-{month}.csv"
            mapping.write_text(MAPPING.read_text().replace("01AUG2026", month))
            result = CliRunner().invoke(cli, ["reference", "load", str(mapping)])
            assert result.exit_code == 1, result.output  # the fixture's one bad line
            assert "4 practices loaded" in result.output
        assert writer.wait(timeout=120) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        writer.kill()
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        assert warehouse.query("SELECT count(*) FROM calls").item() == 15 * 20
        extracts = warehouse.query("SELECT count(*) FROM reference_extracts").item()
    assert extracts == 3


def test_hostile_reference_lines_are_rejected_not_the_file(data_dir: Path, tmp_path: Path) -> None:
    """A list size past INTEGER (it failed the whole file in DuckDB), a damaged first epraccur
    line (it hid the file's kind), a future extract date (it would be 'latest' for ever),
    and two files of one extract in one command (the last replaced the first unseen)."""
    huge = LIST_SIZES.read_text().replace(",4210", ",2147483648", 1)
    assert ",2147483648" in huge
    extract = reference.parse(huge)
    assert "A81001" not in {row.practice for row in extract.rows}
    assert [(r.field, r.reason) for r in extract.rejects if r.line == 2] == [
        ("NUMBER_OF_PATIENTS", "'<digits masked>': Input should be less than or equal to 10000000")
    ]
    damaged = EPRACCUR_ROW.replace('"B82005"', '"B82004"') + ',"extra"'
    extract = reference.parse(damaged + "\n" + EPRACCUR_ROW + "\n", date(2026, 8, 1))
    assert [row.practice for row in extract.rows] == ["B82005"]
    assert [(r.line, r.reason) for r in extract.rejects] == [(1, "has 28 columns, epraccur has 27")]
    with pytest.raises(ReferenceError, match="extract date 2026-12-01 is after today"):
        reference.parse(EPRACCUR_ROW + "\n", date(2026, 12, 1), latest=date(2026, 11, 30))
    runner = CliRunner()
    future = tmp_path / "epraccur_20990101.csv"
    future.write_text(EPRACCUR_ROW + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["reference", "load", str(future)])
    assert result.exit_code == 1
    assert "epraccur_20990101.csv: the extract date 2099-01-01 is after today" in result.output
    sizes = tmp_path / "sizes.csv"
    sizes.write_text(huge)
    result = runner.invoke(cli, ["reference", "load", str(sizes), str(LIST_SIZES)])
    assert result.exit_code == 1
    assert "sizes.csv and gp-reg-pat-prac-all.csv are both the list_size extract of 2026-08-01" in (
        result.output
    )
    result = runner.invoke(cli, ["reference", "load", str(sizes)])
    assert result.exit_code == 1 and "2 practices loaded, 2 rejected" in result.output
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        loaded = warehouse.query("SELECT practice, list_size FROM practice_list_sizes").rows()
    assert sorted(loaded) == [("A81002", 12604), ("A81004", 10125)]


def _feed(fifo: Path, line: bytes, most: int) -> tuple[threading.Thread, list[int]]:
    """Write ``line`` over and over (up to ``most`` bytes) into ``fifo`` from a thread, counting
    what the reader took before it closed its end."""
    written = [0]

    def write() -> None:
        try:
            with fifo.open("wb", buffering=0) as pipe:
                while written[0] < most:
                    written[0] += pipe.write(line * 1024)
        except BrokenPipeError:
            return

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread, written


def test_a_file_is_read_in_bounded_memory(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that is no reference file is refused from its first lines, unread past them
    (it read 938 MB of noise whole, and /dev/zero until the machine ran out); a file past
    CALLSTREAM_REFERENCE_MAX_MB is refused, and a line the csv module cannot read is named."""
    runner = CliRunner()
    fifo = tmp_path / "noise.csv"
    os.mkfifo(fifo)
    thread, written = _feed(fifo, b"not,a,reference,file\n", 64 * 1024 * 1024)
    result = runner.invoke(cli, ["reference", "load", str(fifo)])
    thread.join(timeout=30)
    assert result.exit_code == 1 and "noise.csv: not a known NHS reference file" in result.output
    assert not thread.is_alive() and written[0] < 4 * 1024 * 1024, (written, result.output)

    header = MAPPING.read_text().splitlines()[0]
    long_line = tmp_path / "long.csv"
    long_line.write_text(f"{header}\n{'x' * 200_000}\n")
    result = runner.invoke(cli, ["reference", "load", str(long_line)])
    assert result.exit_code == 1 and "long.csv: line 2: cannot be read as CSV" in result.output
    assert "Traceback" not in result.output

    # the first MiB cuts a character of a UTF-8 file with a byte-order mark; a file that
    # starts with a MiB of blank lines: both are still told by their kind and load
    row = EPRACCUR_ROW.replace("PRIORY MEDICAL GROUP", "PRIORY MÉDICAL GROUP")
    rows = [row.replace('"B82005"', f'"B{n:05d}"') for n in range(1, 6001)]
    text = codecs.BOM_UTF8 + "\n".join(rows).encode() + b"\n"
    cut = text.rindex("É".encode(), 0, 1024 * 1024)
    shift = 1024 * 1024 - 1 - cut  # blank lines that put its first byte last in the MiB
    text = codecs.BOM_UTF8 + b"\n" * shift + text[len(codecs.BOM_UTF8) :]
    assert text[1024 * 1024 - 1 : 1024 * 1024 + 1] == "É".encode()
    bom = tmp_path / "epraccur_20260801.csv"
    bom.write_bytes(text)
    blank = tmp_path / "epraccur_20260802.csv"
    blank.write_bytes(b" \n" * 600_000 + EPRACCUR_ROW.encode() + b"\n")
    result = runner.invoke(cli, ["reference", "load", str(bom), str(blank)])
    assert result.exit_code == 0, result.output
    assert "epraccur extract 2026-08-01, 6000 practices loaded, 0 rejected" in result.output
    assert "epraccur extract 2026-08-02, 1 practices loaded, 0 rejected" in result.output

    monkeypatch.setenv("CALLSTREAM_REFERENCE_MAX_MB", "1")
    get_settings.cache_clear()
    big = tmp_path / "big.csv"
    big.write_text(MAPPING.read_text() + "\n" * 1_100_000)
    result = runner.invoke(cli, ["reference", "load", str(big)])
    assert result.exit_code == 1
    assert "big.csv: larger than a reference file can be (CALLSTREAM_REFERENCE_MAX_MB=1;" in (
        result.output
    )
