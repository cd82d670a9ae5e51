"""Where the simulated practices sit in the NHS, written as NHS England's own reference files.

Pure, like the simulator: the practices of a run (``make_practices``) get real-looking names,
PCNs, sub-ICB locations, ICBs and regions, and are written as the three files
``callstream reference load`` reads: ODS ``epraccur`` (27 columns, no header), the practice
mapping ``gp-reg-pat-prac-map.csv`` and the list sizes ``gp-reg-pat-prac-all.csv``. The ICBs
and regions are real NHS England codes; the PCNs and practice names are made up (the ODS
codes of the first practices are real ones, their names here are not).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from streams.devtools.simulate import Practice, list_sizes_csv

PRACTICES_PER_PCN = 4
PCNS_PER_ICB = 3


@dataclass(frozen=True)
class Icb:
    """A real ICB with one of its sub-ICB locations, and the towns its practices are in."""

    code: str
    name: str
    ons_code: str
    sub_icb_code: str
    sub_icb_name: str
    ons_sub_icb_code: str
    region_code: str
    region_name: str
    ons_region_code: str
    towns: tuple[tuple[str, str], ...]  # (town, postcode district)


ICBS = (
    Icb(
        "QHM",
        "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD",
        "E54000050",
        "16C",
        "NHS NORTH EAST AND NORTH CUMBRIA ICB - 16C",
        "E38000247",
        "Y63",
        "NORTH EAST AND YORKSHIRE",
        "E40000012",
        (("STOCKTON-ON-TEES", "TS18"), ("MIDDLESBROUGH", "TS5"), ("HARTLEPOOL", "TS24")),
    ),
    Icb(
        "QOP",
        "NHS GREATER MANCHESTER INTEGRATED CARE BOARD",
        "E54000057",
        "14L",
        "NHS GREATER MANCHESTER ICB - 14L",
        "E38000217",
        "Y62",
        "NORTH WEST",
        "E40000010",
        (("MANCHESTER", "M14"), ("SALFORD", "M6"), ("STOCKPORT", "SK4")),
    ),
)
_PLACES = (
    "Riverside", "Parkview", "Oakwood", "Millbrook", "Church Lane", "Station Road", "Elmtree",
    "Westgate", "Hillside", "Northfield", "Victoria Road", "Abbey", "Greenbank", "Meadowside",
    "Castle Street", "Brookfield", "Highfield", "Orchard", "Beechwood", "Kingsway",
)  # fmt: skip
_KINDS = ("SURGERY", "MEDICAL CENTRE", "MEDICAL PRACTICE", "HEALTH CENTRE", "FAMILY PRACTICE")
_PCN_NAMES = ("CENTRAL", "NORTH", "SOUTH", "EAST", "WEST", "RIVERSIDE", "VALLEY", "COASTAL")


@dataclass(frozen=True)
class PracticePlace:
    """A simulated practice's name and place in the NHS hierarchy."""

    practice: Practice
    name: str
    postcode: str
    pcn_code: str
    pcn_name: str
    icb: Icb


def place_practices(practices: Iterable[Practice], seed: int = 0) -> list[PracticePlace]:
    """Names and PCNs for the practices: four to a PCN, three PCNs to an ICB, ICBs in turn."""
    rng = random.Random(f"{seed}:places")
    places = []
    for index, practice in enumerate(practices):
        pcn = index // PRACTICES_PER_PCN
        icb = ICBS[(pcn // PCNS_PER_ICB) % len(ICBS)]
        town, district = icb.towns[pcn % len(icb.towns)]
        place = _PLACES[index % len(_PLACES)].upper()
        name = f"{place} {rng.choice(_KINDS)}"
        pcn_name = f"{town.split('-')[0]} {_PCN_NAMES[pcn % len(_PCN_NAMES)]} PCN"
        postcode = f"{district} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXY')}"
        postcode += rng.choice("ABDEFGHJLNPQRSTUWXY")
        places.append(PracticePlace(practice, name, postcode, f"U{90001 + pcn}", pcn_name, icb))
    return places


def epraccur_csv(places: Iterable[PracticePlace]) -> str:
    """NHS ODS epraccur: 27 quoted columns, no header (code, name, region, ICB, address...)."""
    lines = []
    for p in places:
        town = next(t for t, d in p.icb.towns if p.postcode.startswith(d + " "))
        cells = [""] * 27
        cells[0], cells[1], cells[2], cells[3] = (
            p.practice.ods,
            p.name,
            p.icb.region_code,
            p.icb.code,
        )
        cells[4], cells[7], cells[9] = "HEALTH CENTRE", town, p.postcode
        cells[10], cells[12], cells[13] = "19740401", "ACTIVE", "B"
        cells[14], cells[15], cells[21] = p.icb.sub_icb_code, "20200401", "1"
        cells[23], cells[25] = p.icb.sub_icb_code, "RO76"
        lines.append(",".join(f'"{cell}"' for cell in cells))
    return "\n".join(lines) + "\n"


def mapping_csv(places: Iterable[PracticePlace], extract: date) -> str:
    """NHS England's gp-reg-pat-prac-map.csv: practice -> PCN -> sub-ICB -> ICB -> region."""
    stamp = extract.strftime("%d%b%Y").upper()
    lines = [
        "PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,PRACTICE_POSTCODE,PCN_CODE,"
        "PCN_NAME,ONS_SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,"
        "ONS_ICB_CODE,ICB_CODE,ICB_NAME,ONS_COMM_REGION_CODE,COMM_REGION_CODE,COMM_REGION_NAME,"
        "SUPPLIER_NAME"
    ]
    for p in places:
        i = p.icb
        lines.append(
            ",".join(
                [
                    "GP_PRAC_PAT_LIST",
                    stamp,
                    p.practice.ods,
                    p.name,
                    p.postcode,
                    p.pcn_code,
                    p.pcn_name,
                    i.ons_sub_icb_code,
                    i.sub_icb_code,
                    i.sub_icb_name,
                    i.ons_code,
                    i.code,
                    i.name,
                    i.ons_region_code,
                    i.region_code,
                    i.region_name,
                    "EMIS",
                ]
            )  # fmt: skip
        )
    return "\n".join(lines) + "\n"


def write_reference_files(practices: list[Practice], extract: date, directory: Path) -> list[Path]:
    """The three reference files of the practices, for ``callstream reference load``."""
    directory.mkdir(parents=True, exist_ok=True)
    places = place_practices(practices)
    files = {
        f"epraccur_{extract:%Y%m%d}.csv": epraccur_csv(places),
        "gp-reg-pat-prac-map.csv": mapping_csv(places, extract),
        "gp-reg-pat-prac-all.csv": list_sizes_csv(practices, extract),
    }
    paths = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
