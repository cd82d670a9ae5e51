"""The NHS England reference profile the simulator draws from (August 2026 publication).

The published tables live in ``shared/reference/nhs-cbt-2026-08/`` beside the repo, which a
user's install may not have, so the few numbers the simulator needs are packaged in
``streams/devtools/simulate_data/nhs_cbt_2026_08.json``. Rebuild that file from the CSVs with
``python -m streams.devtools.simulate_profile ../shared/reference``.
"""

from __future__ import annotations

import csv
import json
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from models.classified import DURATION_BUCKETS, OUTCOMES, TIME_BANDS

PROFILE_FILE = Path(__file__).parent / "simulate_data" / "nhs_cbt_2026_08.json"
REFERENCE_MONTH = "2026-08"
#: Day labels of the published grid; a bank holiday on any weekday uses the last one.
DAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BANK_HOLIDAY = "Monday (bank holiday)"


class Spread(BaseModel):
    """Spread of one outcome share across practices (published mean and std, clip range)."""

    model_config = ConfigDict(frozen=True)

    mean: float
    std: float
    p10: float
    p90: float


class Profile(BaseModel):
    """What the simulator needs from the publication, as rates and shares."""

    model_config = ConfigDict(frozen=True)

    month: str
    #: inbound calls per 1,000 registered patients per day, by day label then time band.
    calls_per_1000: dict[str, dict[str, float]]
    #: outcome shares (answered, ended_in_ivr, callback_requested, missed) by outcome label
    #: (Monday, Tuesday-Friday, Saturday, Sunday) then time band; they sum to 1.
    outcomes: dict[str, dict[str, dict[str, float]]]
    #: share of answered calls per NHS duration label, by month (YYYY-MM).
    durations: dict[str, dict[str, float]]
    #: calls per 1,000 patients per working day, by month: scales volume for other months.
    volume_by_month: dict[str, float]
    #: spread of practices' outcome shares: ivr_share, answered_share, missed_share.
    practice_spread: dict[str, Spread]

    def volume_factor(self, month: str) -> float:
        """Volume of ``month`` relative to the reference month (1 for unpublished months)."""
        if month not in self.volume_by_month:
            return 1.0
        return self.volume_by_month[month] / self.volume_by_month[self.month]

    def duration_shares(self, month: str) -> dict[str, float]:
        """Talk duration shares of ``month``, else of the reference month."""
        return self.durations.get(month, self.durations[self.month])


def build_profile(reference_dir: Path) -> Profile:
    """Derive the profile from the published CSVs (``nhs-cbt-2026-08/`` under reference_dir)."""
    base = reference_dir / "nhs-cbt-2026-08"
    trend = {row["month"]: row for row in _rows(base / "monthly_trend.csv")}
    ref = trend[REFERENCE_MONTH]
    # The grid holds the average day per label; patients covered follow from the trend.
    patients_k = float(ref["inbound_calls"]) / float(ref["calls_per_1000_patients"])
    grid = {
        row["day_label"]: {band: float(row[band]) / patients_k for band in TIME_BANDS}
        for row in _rows(base / f"day_band_grid_{REFERENCE_MONTH}.csv")
    }
    outcomes: dict[str, dict[str, dict[str, float]]] = {}
    for row in _rows(base / f"outcomes_by_day_band_{REFERENCE_MONTH}.csv"):
        shares = {name: float(row[name] or 0.0) for name in OUTCOMES}
        total = sum(shares.values())
        outcomes.setdefault(row["day_label"], {})[row["time_band"]] = {
            name: share / total for name, share in shares.items()
        }
    durations = {
        row["month"]: {label: float(row[label]) for label in DURATION_BUCKETS}
        for row in _rows(base / "call_duration_shares.csv")
    }
    spread = {
        row[""]: Spread(
            mean=float(row["mean"]),
            std=float(row["std"]),
            p10=float(row["10%"]),
            p90=float(row["90%"]),
        )
        for row in _rows(base / f"practice_outcome_spread_{REFERENCE_MONTH}.csv")
    }
    return Profile(
        month=REFERENCE_MONTH,
        calls_per_1000=grid,
        outcomes=outcomes,
        durations=durations,
        volume_by_month={
            month: float(row["calls_per_1000_patients_per_working_day"])
            for month, row in trend.items()
        },
        practice_spread=spread,
    )


@lru_cache(maxsize=1)
def load_profile(path: Path = PROFILE_FILE) -> Profile:
    """The packaged profile (no access to shared/ needed)."""
    return Profile.model_validate_json(path.read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(argv: list[str]) -> None:
    """Write the packaged profile from a reference directory (default ../shared/reference)."""
    reference = Path(argv[0]) if argv else Path("../shared/reference")
    profile = build_profile(reference)
    PROFILE_FILE.parent.mkdir(parents=True, exist_ok=True)
    PROFILE_FILE.write_text(json.dumps(profile.model_dump(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PROFILE_FILE}")


if __name__ == "__main__":
    main(sys.argv[1:])
