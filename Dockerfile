# The callstream worker image for docker-compose.yml (Kafka runs in its own container).
# Installs exactly what CI tested (requirements.lock), then the project itself editable:
# streams/ reads the SQL files from the sql/ directory next to it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CALLSTREAM_DATA_DIR=/data \
    CALLSTREAM_WEB_PORT=6066

WORKDIR /app

# Dependencies first: this layer is reused while only the code changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY pyproject.toml README.md ./
COPY models ./models
COPY streams ./streams
COPY sql ./sql
COPY dashboards ./dashboards
RUN pip install --no-deps -e . --config-settings editable_mode=compat

RUN useradd --create-home --uid 1000 callstream \
    && mkdir -p /data \
    && chown callstream /data
USER callstream

VOLUME /data
EXPOSE 6066
CMD ["callstream", "worker"]
