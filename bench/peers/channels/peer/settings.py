"""The Channels peer for `make bench`: the Channels tutorial's chat room with the default
Redis channel layer, storing each message with an INSERT through psycopg."""

import os

SECRET_KEY = "bench-peer-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
ROOT_URLCONF = "peer.urls"
ASGI_APPLICATION = "peer.asgi.application"
DATABASES = {}
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4")]},
    }
}
