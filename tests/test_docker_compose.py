"""docker-compose.yml cannot run here (no Docker engine): check it parses, agrees with the code,
keeps its secrets in the uncommitted .env, and scales; render it with `docker compose config`
where the docker CLI exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.settings import Settings
from streams.warehouse.connect import catalog_kind, data_path, needed_extensions

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
#: Settings that are credentials: in the compose file only as ${VAR} from the .env file.
SECRETS = (
    "CALLSTREAM_CATALOG_PASSWORD",
    "CALLSTREAM_S3_KEY_ID",
    "CALLSTREAM_S3_SECRET",
    "CALLSTREAM_PSEUDONYMISATION_KEY",
)


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict:
    return _compose()["services"]


def _interpolated(value: object) -> str:
    """A compose value with ${VAR:-default} replaced by its default or a placeholder."""
    return re.sub(
        r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}",
        lambda m: m.group(2) if m.group(2) is not None else f"<{m.group(1)}>",
        str(value),
    )


def test_kafka_is_the_official_image_of_our_version_in_kraft_mode() -> None:
    kafka = _services()["kafka"]
    assert kafka["image"] == f"apache/kafka:{Settings().kafka_version}"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert any(volume.endswith(":" + env["KAFKA_LOG_DIRS"]) for volume in kafka["volumes"])


def test_postgres_and_minio_are_official_images_with_a_bucket_made_at_start() -> None:
    services = _services()
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["minio"]["image"].startswith("minio/minio:RELEASE.")
    bucket = services["minio-bucket"]
    assert bucket["image"].startswith("minio/mc:RELEASE.")
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing" in " ".join(bucket["entrypoint"])


def test_worker_and_dashboards_use_real_settings_for_postgres_and_s3() -> None:
    services = _services()
    fields = {f"CALLSTREAM_{name.upper()}" for name in Settings.model_fields}
    for name in ("worker", "dashboards"):
        env = services[name]["environment"]
        assert set(env) <= fields, set(env) - fields
        settings = Settings(**{k[11:].lower(): _interpolated(v) for k, v in env.items()})
        assert catalog_kind(settings.catalog or "") == "postgres"
        assert "host=postgres" in (settings.catalog or "")
        assert data_path(settings) == "s3://callstream/lake/"
        assert settings.s3_endpoint == "minio:9000" and settings.s3_url_style == "path"
        assert needed_extensions(settings, settings.catalog or "") == [
            "ducklake",
            "postgres",
            "httpfs",
        ]
        assert env["CALLSTREAM_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert services["worker"]["command"][:2] == ["callstream", "worker"]
    # Plain HTTP inside the compose network; TLS at a proxy in front (issue 11).
    assert services["worker"]["environment"]["CALLSTREAM_WEB_BIND"] == "0.0.0.0"
    assert services["dashboards"]["command"][:3] == ["callstream", "dashboards", "serve"]
    assert services["dashboards"]["environment"]["CALLSTREAM_DASHBOARDS_HOST"] == "0.0.0.0"


def test_secrets_come_only_from_the_uncommitted_env_file() -> None:
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = ROOT / ".env.example"
    listed = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert listed - used == {"COMPOSE_PROJECT_NAME"} and used <= listed, (used, listed)
    for name in ("worker", "dashboards"):
        env = _services()[name]["environment"]
        for secret in SECRETS:
            assert env[secret].startswith("${") and ":?" in env[secret], (name, secret)
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_workers_scale_healthy_services_keep_named_volumes() -> None:
    compose = _compose()
    services = compose["services"]
    worker = services["worker"]
    # `--scale worker=3`: no fixed host port, no container name; the one volume is shared
    # (the ingest tokens), the same for every worker and the dashboards.
    assert all(":" not in str(port) for port in worker.get("ports", []))
    assert "container_name" not in worker
    data = Settings(data_dir=worker["environment"]["CALLSTREAM_DATA_DIR"]).data_dir
    assert worker["volumes"] == services["dashboards"]["volumes"] == [f"callstream-data:{data}"]
    for name, service in services.items():
        if name != "minio-bucket":  # a one-shot job
            assert "healthcheck" in service, name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
    assert worker["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    assert services["dashboards"]["depends_on"]["worker"]["condition"] == "service_healthy"


def test_dockerfile_installs_the_lock_and_runs_the_worker() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "pip install -r requirements.lock" in text
    assert 'CMD ["callstream", "worker"]' in text


def test_docker_compose_config_renders_it() -> None:
    """Docker's own reading of the file, where a compose CLI is installed: the docker compose
    plugin, or Debian's docker-compose package."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        command = [docker, "compose"]
    elif shutil.which("docker-compose"):
        command = [str(shutil.which("docker-compose"))]
    else:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed here: the file was not "
            "rendered by Docker (apt-get install docker-compose to run this check)"
        )
    done = subprocess.run(
        [*command, "--env-file", ".env.example", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)
    env = rendered["services"]["worker"]["environment"]
    assert env["CALLSTREAM_CATALOG_PASSWORD"] == "change-me-catalog-password"  # from the file
    assert env["CALLSTREAM_DATA_PATH"] == "s3://callstream/lake/"
    assert set(rendered["volumes"]) >= {"kafka-data", "postgres-data", "minio-data"}
