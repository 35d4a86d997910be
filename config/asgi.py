"""One ASGI application: HTTP through Django, WebSocket at /ws/chat/ on every host."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from apps.chat.consumers import ChatConsumer  # noqa: E402
from apps.chat.hub import PublishFromServingLoop  # noqa: E402
from apps.chat.ws import ConnectionAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": PublishFromServingLoop(django_application),
        "websocket": ConnectionAuthMiddleware(
            URLRouter([path("ws/chat/", ChatConsumer.as_asgi())])
        ),
    }
)
