"""One ASGI application: HTTP through Django, WebSocket at /ws/chat/ on every host.

HTTP requests run on Django's WSGI handler in a fixed pool of HTTP_THREADS threads
(apps.core.threaded_wsgi): a request crosses into a thread once and back once, where
Django's ASGI handler crossed between the event loop and a new thread per request about
eight times (each middleware, the view, the response). Sockets stay asynchronous
(apps.chat.consumers)."""

import gc
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.wsgi import get_wsgi_application

django_application = get_wsgi_application()

from apps.core.db import keep_connection  # noqa: E402


def keeping_connection(environ: dict[str, Any], start_response: Any) -> Any:
    """Django's WSGI handler, on a thread that keeps its pooled connection between
    requests (`keep_connection`); the response's close, after this returns, then finds
    the connection not obsolete."""
    try:
        return django_application(environ, start_response)
    finally:
        keep_connection()


from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

from apps.chat.consumers import ChatConsumer  # noqa: E402
from apps.chat.hub import PublishFromServingLoop  # noqa: E402
from apps.chat.shutdown import GracefulShutdown  # noqa: E402
from apps.chat.ws import ConnectionAuthMiddleware  # noqa: E402
from apps.core.threaded_wsgi import ThreadedWSGI  # noqa: E402

if settings.JOBS_TICKER:
    # No job runner configured: this process runs the periodic jobs itself.
    from config.jobs import start_ticker

    start_ticker()

if settings.METRICS_PORT:
    from apps.core.metrics import serve

    serve(port=settings.METRICS_PORT, bind=settings.METRICS_BIND, ports=settings.METRICS_PORTS)

# Everything loaded so far lives as long as the process: out of the collector's sight, so
# a full collection walks only what came after (thresholds: settings.GC_THRESHOLDS).
gc.freeze()
gc.set_threshold(*settings.GC_THRESHOLDS)

application = GracefulShutdown(
    ProtocolTypeRouter(
        {
            "http": PublishFromServingLoop(
                ThreadedWSGI(
                    keeping_connection,
                    workers=settings.HTTP_THREADS,
                    max_body=settings.MAX_BODY_BYTES,
                )
            ),
            "websocket": ConnectionAuthMiddleware(
                URLRouter([path("ws/chat/", ChatConsumer.as_asgi())])
            ),
        }
    )
)
