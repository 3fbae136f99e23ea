# attain: the API, `attain serve` by default; the same image runs the one-shot `attain keys` and
# `attain simulate` jobs of deploy/compose.yaml. Set ATTAIN_DATABASE_URL to a PostgreSQL database
# (postgresql+asyncpg://user:password@host:5432/db); without it the service falls back to SQLite in /app/data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# A fixed uid/gid: deploy/compose.yaml lets other containers into /secrets (mode 0770) through this group.
RUN groupadd --system --gid 10001 attain \
 && useradd --system --uid 10001 --gid attain --home-dir /app --no-create-home --shell /usr/sbin/nologin attain

WORKDIR /app
COPY pyproject.toml constraints.txt alembic.ini ./
COPY app/ app/
COPY migrations/ migrations/
COPY seeds/ seeds/
# The app finds alembic.ini, migrations/ and seeds/ next to its package directory, so it runs from
# /app (PYTHONPATH above); the install brings the pinned dependencies and the `attain` command.
RUN pip install -c constraints.txt . \
 && rm -rf build ./*.egg-info \
 && install -d -o attain -g attain -m 0750 /app/data \
 && install -d -o attain -g attain -m 0770 /secrets

USER attain
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ATTAIN_PORT', '8000') + '/healthz', timeout=2)"]

CMD ["attain", "serve", "--host", "0.0.0.0"]
