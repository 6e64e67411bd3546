# HTX Connect: one image for every role (docs/deploy.md). Build: `docker build -t htx-connect .`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot bot
COPY channels channels
COPY catalog catalog
COPY orders orders
COPY locales locales
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent htx

# No source tree and no .env at run time: settings come from the environment (compose.yaml, `docker run --env-file`).
WORKDIR /srv/htx
USER htx

# MPLCONFIGDIR: matplotlib (sales charts) wants a writable cache directory.
ENV HTX_HOST=0.0.0.0 \
    HTX_PORT=8080 \
    HTX_LOG_FORMAT=json \
    MPLCONFIGDIR=/tmp/matplotlib
EXPOSE 8080
# aiohttp stops gracefully on SIGTERM: the current turn finishes within HTX_SHUTDOWN_SECONDS (10).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# `htx serve` runs every role; compose.yaml runs `htx serve --web-only` and `htx serve --workers-only`.
CMD ["htx", "serve"]
