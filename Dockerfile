# EventHub API image: `docker build -t eventhub .`, or `docker compose up` with docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed numeric id, so orchestrators can check runAsNonRoot. Its home is the
# working directory: SQLite file, generated secrets (.eventhub-secret,
# .eventhub-ticket-key.pem) and uploads land there; mount a volume on it.
RUN groupadd --system --gid 10001 eventhub \
    && useradd --system --uid 10001 --gid eventhub --home-dir /var/lib/eventhub \
        --shell /usr/sbin/nologin eventhub \
    && install --directory --owner eventhub --group eventhub --mode 0750 /var/lib/eventhub

WORKDIR /usr/src/eventhub

# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir eventhub && touch eventhub/__init__.py && pip install . && rm -rf eventhub build

COPY eventhub ./eventhub
RUN pip install --no-deps --force-reinstall . && rm -rf build *.egg-info

USER 10001:10001
WORKDIR /var/lib/eventhub
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["eventhub", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
