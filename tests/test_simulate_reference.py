"""The simulator's practices as NHS England's reference files (what `make run` loads)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from streams.cli import cli
from streams.core import reference
from streams.devtools.simulate import SimulationConfig, make_practices
from streams.devtools.simulate_profile import load_profile

AUGUST = date(2026, 8, 1)


def test_simulate_writes_named_practices_in_pcns_icbs_and_regions(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reference"
    args = ["simulate", "--practices", "20", "--start", "2026-08-03", "--out", str(tmp_path / "e")]
    result = CliRunner().invoke(cli, [*args, "--reference-dir", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["epraccur_20260801.csv", "gp-reg-pat-prac-all.csv", "gp-reg-pat-prac-map.csv"]
    extracts = {
        path.name: reference.parse(path.read_text(), reference.date_from_name(path.name))
        for path in out.iterdir()
    }
    for extract in extracts.values():
        assert extract.extract_date == AUGUST and not extract.rejects
    practices = make_practices(
        SimulationConfig(practices=20, start=date(2026, 8, 3), days=1, key=b"k"), load_profile()
    )
    mapping = extracts["gp-reg-pat-prac-map.csv"].rows
    assert [row.practice for row in mapping] == [p.ods for p in practices]
    assert len({row.practice_name for row in mapping}) == 20  # every practice has its own name
    assert len({row.pcn_code for row in mapping}) == 5
    assert {(row.icb_code, row.region_code) for row in mapping} == {("QHM", "Y63"), ("QOP", "Y62")}
    assert all(row.pcn_name.endswith(" PCN") and row.icb_name for row in mapping)
    ods = {row.practice: row for row in extracts["epraccur_20260801.csv"].rows}
    for row in mapping:
        assert ods[row.practice].name == row.practice_name
        assert ods[row.practice].icb_code == row.icb_code and ods[row.practice].role_code == "RO76"
    sizes = {row.practice: row.list_size for row in extracts["gp-reg-pat-prac-all.csv"].rows}
    assert sizes == {p.ods: p.list_size for p in practices}
