"""Ingest tokens: hashed at rest, 0600, shown once, revocable, seen by a running reader."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.commands.tokens import command
from streams.ingest.tokens import TokenError, TokenStore, hash_token


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore.for_data_dir(tmp_path / "data")


def test_a_created_token_verifies_for_its_practice_and_only_its_hash_is_stored(store):
    token, record = store.create("A81001", label="pbx")
    assert token.startswith(f"cst_{record.id}_") and len(token) == 60
    assert store.verify(token) == record and record.practice == "A81001"

    text = store.path.read_text()
    secret = token.removeprefix(f"cst_{record.id}_")  # may hold "_" itself (URL-safe base64)
    assert len(secret) > 20 and token not in text and secret not in text
    assert json.loads(text)["tokens"][0]["sha256"] == hash_token(token)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_unknown_malformed_and_altered_tokens_do_not_verify(store):
    token, _ = store.create("A81001")
    other = TokenStore(store.path.with_name("elsewhere.json")).create("A81001")[0]
    assert store.verify(other) is None
    assert store.verify("") is None
    assert store.verify("Bearer " + token) is None
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_revoked_tokens_stop_verifying_in_a_reader_that_already_loaded_them(store):
    token, record = store.create("A81001")
    reader = TokenStore(store.path)  # as the worker holds it
    assert reader.verify(token) is not None
    store.revoke("A81001", record.id)
    assert reader.verify(token) is None
    later, _ = store.create("A81001")
    assert reader.verify(later) is not None  # new tokens are seen too


def test_revoke_checks_practice_and_id(store):
    _, record = store.create("A81001")
    with pytest.raises(TokenError, match=f"token {record.id} belongs to practice A81001"):
        store.revoke("B82002", record.id)
    with pytest.raises(TokenError, match="no token with id nope"):
        store.revoke("A81001", "nope")
    store.revoke("A81001", record.id)
    with pytest.raises(TokenError, match="already revoked"):
        store.revoke("A81001", record.id)


def test_records_are_listed_per_practice(store):
    store.create("A81001")
    store.create("B82002")
    store.create("A81001")
    assert [r.practice for r in store.records()] == ["A81001", "B82002", "A81001"]
    assert len(store.records("A81001")) == 2
    with pytest.raises(TokenError, match="'A8100' is not an ODS practice code"):
        store.create("A8100")
    # Listing a mistyped code names it rather than answering "no tokens for ...".
    with pytest.raises(TokenError, match="is not an ICB code"):
        store.records("07700900123", "icb")


def test_a_damaged_store_is_a_clear_error(store):
    store.create("A81001")
    store.path.write_text("{not json")
    with pytest.raises(TokenError, match="is damaged") as damaged:
        store.records()
    assert "\n" not in str(damaged.value) and "move it aside" in str(damaged.value)
    store.path.write_text('{"tokens": [{"practice": "07700900123 secret-ish"}]}')
    with pytest.raises(TokenError, match="is damaged") as damaged:
        store.records()
    message = str(damaged.value)
    assert "\n" not in message and "07700900123" not in message and "secret-ish" not in message
    assert "tokens.0" in message
    store.path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(TokenError, match=r"is damaged \(not UTF-8 text\)"):
        store.records()


def test_a_label_is_a_short_note_and_never_keeps_a_number(store):
    _, record = store.create("A81001", "PBX by Acme, call 07700 900123")
    assert record.label == "PBX by Acme, call <digits masked>"
    assert store.records()[0].label == record.label
    for label in ("x" * 201, "two\nlines"):
        with pytest.raises(TokenError, match="--label: at most 200 characters on one line"):
            store.create("A81001", label)


def test_cli_prints_the_token_once_lists_without_secrets_and_revokes(data_dir: Path):
    runner = CliRunner()
    created = runner.invoke(command, ["create", "--practice", "a81001", "--label", "Surgery PBX"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    token_id = token.split("_")[1]
    assert "shown only this once" in created.stderr

    listed = runner.invoke(command, ["list", "--practice", "A81001"])
    assert listed.exit_code == 0
    assert token_id in listed.stdout and "Surgery PBX" in listed.stdout
    assert token not in listed.output

    revoked = runner.invoke(command, ["revoke", "--practice", "A81001", token_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert TokenStore.for_data_dir(data_dir).verify(token) is None

    again = runner.invoke(command, ["revoke", "--practice", "A81001", token_id])
    assert again.exit_code == 1 and "already revoked" in again.output
    assert "Traceback" not in again.output


def test_wallboard_tokens_are_a_scope_of_their_own_and_old_records_are_ingest(data_dir: Path):
    runner = CliRunner()
    created = runner.invoke(command, ["create", "--practice", "A81001", "--scope", "wallboard"])
    assert created.exit_code == 0, created.output
    assert "/live/practices/A81001" in created.stderr
    store = TokenStore.for_data_dir(data_dir)
    assert store.verify(created.stdout.strip()).scope == "wallboard"
    listed = runner.invoke(command, ["list", "--practice", "A81001"])
    assert "\twallboard\t" in listed.stdout
    wrong = runner.invoke(command, ["create", "--practice", "A81001", "--scope", "admin"])
    assert wrong.exit_code == 2 and "admin" in wrong.output and "Traceback" not in wrong.output
    # A store written before scopes existed: its tokens still push events.
    token, _ = store.create("A81002")
    stored = json.loads(store.path.read_text())
    for record in stored["tokens"]:
        record.pop("scope")
    store.path.write_text(json.dumps(stored))
    assert store.verify(token).scope == "ingest"


def test_pcn_and_icb_tokens_are_wallboard_tokens_listed_and_revoked_by_their_code(data_dir: Path):
    runner = CliRunner()
    created = runner.invoke(command, ["create", "--pcn", "u00351"])
    assert created.exit_code == 0, created.output
    assert "/live/pcns/U00351#token=" in created.stderr and "PCN U00351" in created.stderr
    store = TokenStore.for_data_dir(data_dir)
    record = store.verify(created.stdout.strip())
    assert (record.level, record.code, record.scope) == ("pcn", "U00351", "wallboard")
    assert record.practice is None and store.records("U00351") == []  # not a practice's

    icb = runner.invoke(command, ["create", "--icb", "QHM", "--scope", "wallboard"])
    assert icb.exit_code == 0 and "/live/icbs/QHM#token=" in icb.stderr
    ingest = runner.invoke(command, ["create", "--pcn", "U00351", "--scope", "ingest"])
    assert ingest.exit_code == 1 and "--scope wallboard" in ingest.output
    both = runner.invoke(command, ["create", "--practice", "A81001", "--pcn", "U00351"])
    assert both.exit_code == 2 and "exactly one of --practice" in both.output
    assert runner.invoke(command, ["list"]).exit_code == 2

    listed = runner.invoke(command, ["list", "--pcn", "U00351"])
    assert (
        listed.stdout.startswith("id\tpcn\t") and f"{record.id}\tU00351\twallboard" in listed.stdout
    )
    wrong = runner.invoke(command, ["revoke", "--icb", "QHM", record.id])
    assert wrong.exit_code == 1 and "belongs to PCN U00351, not ICB QHM" in wrong.output
    revoked = runner.invoke(command, ["revoke", "--pcn", "U00351", record.id])
    assert revoked.exit_code == 0 and "of PCN U00351 revoked" in revoked.stdout
    assert "Traceback" not in wrong.output + ingest.output + both.output
