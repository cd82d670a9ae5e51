"""The wallboard's pure parts: who may open which board, how a roll-up's practices are split
between the workers holding them, and the organisations' practice lists (kept a while)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from yarl import URL

from streams.ingest.tokens import TokenStore
from streams.worker.changelog import partition_of
from streams.worker.topology import WarehouseNotOpen
from streams.worker.wallboard import MEMBERS_TTL_S, Denied, Members, authorise, by_owner


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore.for_data_dir(tmp_path)


def refusal(store: TokenStore, token: str, code: str, level: str = "practice") -> Denied:
    with pytest.raises(Denied) as refused:
        authorise(store, f"Bearer {token}", code, level)  # type: ignore[arg-type]
    return refused.value


def test_each_board_opens_to_its_own_wallboard_token_only(store: TokenStore) -> None:
    practice = store.create("A81001", scope="wallboard")[0]
    pcn = store.create("U00351", scope="wallboard", level="pcn")[0]
    icb = store.create("QHM", scope="wallboard", level="icb")[0]
    ingest = store.create("A81001")[0]
    authorise(store, f"Bearer {practice}", "A81001")
    authorise(store, f"Bearer {pcn}", "U00351", "pcn")
    authorise(store, f"Bearer {icb}", "QHM", "icb")

    denied = refusal(store, practice, "U00351", "pcn")
    assert denied.status == 403 and "practice A81001, not PCN U00351" in str(denied)
    assert "PCN U00351, not practice A81001" in str(refusal(store, pcn, "A81001"))
    assert "PCN U00351, not ICB QHM" in str(refusal(store, pcn, "QHM", "icb"))
    assert "PCN U00351, not PCN U00520" in str(refusal(store, pcn, "U00520", "pcn"))
    assert "--scope wallboard" in str(refusal(store, ingest, "A81001"))
    assert refusal(store, pcn, "u0035!", "pcn").status == 404
    missing = refusal(store, "", "U00351", "pcn")
    assert missing.status == 401 and "--pcn U00351 --scope wallboard" in str(missing)


def test_a_roll_up_asks_each_other_worker_once_for_its_share() -> None:
    practices = [f"A8100{n}" for n in range(10)]
    other = URL("http://worker-b:6066")
    owned = {partition_of(p.encode(), 4) for p in practices[:3]}  # the partitions of three
    groups = by_owner(practices, 4, dict.fromkeys(owned, other))
    assert set(groups) == {None, other}
    assert sorted(groups[other] + groups[None]) == practices
    assert all(partition_of(p.encode(), 4) in owned for p in groups[other])
    assert not any(partition_of(p.encode(), 4) in owned for p in groups[None])
    assert by_owner(practices, 4, {}) == {None: practices}  # one worker: all its own


def test_an_organisations_practices_are_read_again_after_a_while() -> None:
    reads: list[tuple[str, str]] = []
    now = [0.0]
    answers = {"U00351": ["A81001", "A81002"], "U00520": []}

    async def read(level: str, code: str) -> list[str]:
        reads.append((level, code))
        return answers[code]

    members = Members(read, lambda: now[0])  # type: ignore[arg-type]
    assert asyncio.run(members.of("pcn", "U00351")) == ["A81001", "A81002"]
    answers["U00351"] = ["A81001"]
    assert asyncio.run(members.of("pcn", "U00351")) == ["A81001", "A81002"]  # kept
    now[0] = MEMBERS_TTL_S + 1
    assert asyncio.run(members.of("pcn", "U00351")) == ["A81001"]  # read again
    assert reads == [("pcn", "U00351")] * 2
    with pytest.raises(Denied, match="no practices of PCN U00520 in the reference data"):
        asyncio.run(members.of("pcn", "U00520"))

    async def starting(level: str, code: str) -> list[str]:
        raise WarehouseNotOpen("not yet")

    with pytest.raises(Denied, match="starting") as refused:
        asyncio.run(Members(starting, lambda: 0.0).of("icb", "QHM"))  # type: ignore[arg-type]
    assert refused.value.status == 503
