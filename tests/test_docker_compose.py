"""docker-compose.yml cannot run here (no Docker): check it parses and agrees with the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_kafka_is_the_official_image_of_our_version_in_kraft_mode() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{Settings().kafka_version}"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert any(volume.endswith(":" + env["KAFKA_LOG_DIRS"]) for volume in kafka["volumes"])


def test_worker_settings_are_real_settings_and_the_key_comes_from_the_user() -> None:
    worker = _compose()["services"]["worker"]
    env = worker["environment"]
    fields = {f"CALLSTREAM_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields
    assert env["CALLSTREAM_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["CALLSTREAM_PSEUDONYMISATION_KEY"].startswith("${CALLSTREAM_PSEUDONYMISATION_KEY:?")
    assert worker["command"] == ["callstream", "worker"]
    port = env["CALLSTREAM_WEB_PORT"]
    # Plain HTTP: published on the host's loopback only, for a TLS proxy (issue 11).
    assert worker["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert env["CALLSTREAM_WEB_BIND"] == "0.0.0.0"  # inside the container, for that port
    assert any(volume.endswith(":" + env["CALLSTREAM_DATA_DIR"]) for volume in worker["volumes"])


def test_dockerfile_installs_the_lock_and_runs_the_worker() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "pip install -r requirements.lock" in text
    assert 'CMD ["callstream", "worker"]' in text
