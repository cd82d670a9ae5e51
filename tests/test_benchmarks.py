"""Benchmark panels: a practice beside the published medians of its PCN, its ICB and England.

The published month is built from NHS England's own August 2026 figures in
../shared/reference/nhs-cbt-2026-08 (the spread of outcome shares across practices): five
published practices sit at the 10th, 25th, 50th, 75th and 90th percentile of answered share,
so England's median practice must show the published national median.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from analyst_support import build
from click.testing import CliRunner
from test_export_cbt import HAND_CALLS

from streams.cli import cli
from streams.outputs.dashboards.build import SiteBuilder, organisations
from streams.outputs.dashboards.spec import load_dashboards
from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.store import Warehouse

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nhs-cbt-2026-08"
needs_reference = pytest.mark.skipif(
    not REFERENCE.exists(), reason="../shared/reference/nhs-cbt-2026-08 is not beside the repo"
)
TODAY = date(2026, 8, 3)
CALLS = 1_000_000  # per published practice: shares exact to a millionth
QUANTILES = ("10%", "25%", "50%", "75%", "90%")
#: Published practice -> (PCN, ICB, region, percentile rank 0-4 of its answered share). A81001
#: and A81002 make PCN U00351; with A81004 and A81005 (PCN U00520) they make ICB QHM.
PUBLISHED = {
    "A81001": ("U00351", "QHM", "Y63", 0),
    "A81002": ("U00351", "QHM", "Y63", 4),
    "A81004": ("U00520", "QHM", "Y63", 1),
    "A81005": ("U00520", "QHM", "Y63", 3),
    "P82001": ("U00999", "QOP", "Y62", 2),
}


def spread() -> dict[str, list[float]]:
    """Answered, IVR and missed share of practices at each percentile (NHS England, Aug 2026)."""
    with (REFERENCE / "practice_outcome_spread_2026-08.csv").open() as f:
        rows = {row[""]: row for row in csv.DictReader(f)}
    return {
        name: [float(rows[f"{name}_share"][q]) for q in QUANTILES]
        for name in ("answered", "ivr", "missed")
    }


def published_file(path: Path) -> dict[str, dict[str, float]]:
    """A day and time file for 3 August 2026; returns each practice's intended shares.

    Practice at rank k has the k-th answered percentile and the (4-k)-th IVR and missed ones,
    so every practice's outcomes fit in its calls; the rest asked for a callback."""
    shares = spread()
    lines = [
        "Date,REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE,Indicator,"
        "Time_Category,Value"
    ]
    intended = {}
    for practice, (pcn, icb, region, k) in PUBLISHED.items():
        answered = round(shares["answered"][k] * CALLS)
        ivr = round(shares["ivr"][4 - k] * CALLS)
        missed = round(shares["missed"][4 - k] * CALLS)
        callback = CALLS - answered - ivr - missed
        assert callback > 0
        counts = {"CBT001": CALLS, "CBT002": ivr, "CBT003": answered, "CBT004": missed}
        counts |= {"CBT005": callback, "CBT006": callback // 2, "CBT007": answered}
        for indicator, value in counts.items():
            lines.append(
                f"2026-08-03,{region},{icb},16C,{pcn},{practice},{indicator},08:00-09:59,{value}.0"
            )
        intended[practice] = {"answered": answered / CALLS, "missed": missed / CALLS}
    path.write_text("\n".join(lines) + "\n")
    return intended


@pytest.fixture
def benchmarked(data_dir: Path, tmp_path: Path) -> dict[str, dict[str, float]]:
    """Our hand-worked calls (A81001 on 3 August) and the published month loaded."""
    build(Settings(data_dir=data_dir), HAND_CALLS)
    path = tmp_path / "Cloud Based Telephony By Day and Time - August 2026_Y63.csv"
    intended = published_file(path)
    result = CliRunner().invoke(cli, ["nhs", "load", str(path)])
    assert result.exit_code == 0, result.output
    return intended


@needs_reference
def test_the_practice_is_shown_beside_its_pcn_icb_and_england(
    data_dir: Path, benchmarked: dict[str, dict[str, float]]
) -> None:
    reference = spread()
    source = "NHS England CBT publication, August 2026"
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        rows = warehouse.query(
            sqlfiles.read("dashboards/benchmarks.sql"),
            {"practices": ["A81001"], "dates": [TODAY]},
        ).to_dicts()
    got = {row["who"]: (row["practices"], row["answered_share"]) for row in rows}
    assert list(got) == [
        "callstream, August 2026 to 3 August",
        f"As published ({source})",
        f"PCN U00351 median ({source})",
        f"ICB QHM median ({source})",
        f"England median ({source})",
    ]
    # Ours: 3 of A81001's 6 inbound calls on 3 August were answered.
    assert got["callstream, August 2026 to 3 August"] == (None, 0.5)
    assert got[f"As published ({source})"] == (1, benchmarked["A81001"]["answered"])
    pcn = (reference["answered"][0] + reference["answered"][4]) / 2
    icb = (reference["answered"][1] + reference["answered"][3]) / 2
    assert got[f"PCN U00351 median ({source})"][0] == 2
    assert got[f"PCN U00351 median ({source})"][1] == pytest.approx(pcn, abs=1e-6)
    assert got[f"ICB QHM median ({source})"] == (4, pytest.approx(icb, abs=1e-6))
    # England's median practice is NHS England's published national median (63.8%).
    assert got[f"England median ({source})"] == (
        5,
        pytest.approx(reference["answered"][2], abs=1e-6),
    )
    england = rows[-1]
    assert england["missed_share"] == pytest.approx(reference["missed"][2], abs=1e-6)
    assert england["ivr_share"] == pytest.approx(reference["ivr"][2], abs=1e-6)


@needs_reference
def test_dashboards_show_the_benchmarks_labelled_with_source_and_month(
    data_dir: Path, benchmarked: dict[str, dict[str, float]]
) -> None:
    reference = spread()
    national = f"{reference['answered'][2] * 100:.1f}%"
    assert national == "63.8%"
    dashboards = {d.slug: d for d in load_dashboards()}
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        orgs = organisations(warehouse.query(sqlfiles.read("dashboards/organisations.sql")))
        builder = SiteBuilder(warehouse, list(dashboards.values()), TODAY)
        by_code = {(o.level, o.code): o for o in orgs}
        practice = builder.page(by_code[("practice", "A81001")], dashboards["practice_today"])
        pcn = builder.page(by_code[("pcn", "U00351")], dashboards["comparison"])
    assert "Beside PCN, ICB and England" in practice
    assert "England median (NHS England CBT publication, August 2026)" in practice
    assert "PCN U00351 median (NHS England CBT publication, August 2026)" in practice
    assert national in practice and "August 2026 up to Monday 3 August 2026" in practice
    assert "Each practice beside PCN, ICB and England" in pcn
    assert "NHS England CBT publication, August 2026" in pcn and national in pcn
    assert f"{benchmarked['A81001']['answered'] * 100:.1f}%" in pcn  # A81001 as published


def test_without_a_publication_the_panel_says_how_to_load_one(data_dir: Path) -> None:
    build(Settings(data_dir=data_dir), HAND_CALLS)
    dashboards = {d.slug: d for d in load_dashboards()}
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        orgs = organisations(warehouse.query(sqlfiles.read("dashboards/organisations.sql")))
        builder = SiteBuilder(warehouse, list(dashboards.values()), TODAY)
        org = next(o for o in orgs if o.code == "A81001")
        page = builder.page(org, dashboards["practice_today"])
    assert "No NHS England Cloud Based Telephony publication is loaded for this month" in page


@needs_reference
def test_a_group_with_a_practice_outside_the_pcn_gets_no_pcn_or_icb_median(
    data_dir: Path, benchmarked: dict[str, dict[str, float]]
) -> None:
    """B99999 is in no reference extract: a page of A81001 and B99999 (the UNMAPPED group
    holds such pages) is not "their PCN" or "their ICB"'s, whatever A81001's are."""
    with Warehouse.open(Settings(data_dir=data_dir), read_only=True) as warehouse:
        rows = warehouse.query(
            sqlfiles.read("dashboards/benchmarks.sql"),
            {"practices": ["A81001", "B99999"], "dates": [TODAY]},
        ).to_dicts()
    whos = [row["who"] for row in rows]
    assert not any(who.startswith(("PCN ", "ICB ")) for who in whos), whos
    assert any(who.startswith("England median") for who in whos)
