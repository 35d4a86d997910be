"""Secrets never reach the logs: `?token=` and `?ticket=` values in logged request lines
(uvicorn's access log and its WebSocket handshake lines, and anything Django logs) are
replaced with `[redacted]`; so are fields named like secrets in structured lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

SECRET_PARAMETER = re.compile(r"([?&](?:token|ticket|access_token)=)[^&\s\"']*", re.IGNORECASE)
REDACTED = r"\1[redacted]"

# Loggers configured by the ASGI server itself, before Django's LOGGING applies: the
# filter is added to them directly (`CoreConfig.ready`).
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "websockets.server")


def redact(text: str) -> str:
    return SECRET_PARAMETER.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


# uvicorn's three INFO lines per socket (accepted, opened, closed): each socket session
# gets one line of our own when it ends (`apps.sockets`), with the tenant, the user and
# the close code; theirs would double it, and cost a reconnect storm a tenth of its CPU.
_SOCKET_CHATTER = frozenset(
    {'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"}
)


class DropSocketChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.msg in _SOCKET_CHATTER)


def _skipping_socket_chatter(info: Callable[..., None]) -> Callable[..., None]:
    """uvicorn's `info`, returning before it makes a record of the socket chatter (which
    `DropSocketChatter` would drop, after the record's making cost the socket's handshake
    a few percent of its CPU)."""

    def info_unless_chatter(msg: object, *args: Any, **kwargs: Any) -> None:
        if type(msg) is str and msg in _SOCKET_CHATTER:
            return
        info(msg, *args, **kwargs)

    info_unless_chatter.skips_socket_chatter = True  # type: ignore[attr-defined]
    return info_unless_chatter


def install_on_server_loggers() -> None:
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
    server = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DropSocketChatter) for f in server.filters):
        server.addFilter(DropSocketChatter())
    if not getattr(server.info, "skips_socket_chatter", False):
        server.info = _skipping_socket_chatter(server.info)  # type: ignore[method-assign]
    # uvicorn's handlers give way to ours (same format, same redaction); its access log's
    # too, unless it runs with --no-access-log, which leaves that logger without handlers
    # and not propagating: it stays off. (Not in LOGGING: configuring `uvicorn` there would
    # turn its access log back on.)
    for name in ("uvicorn", "uvicorn.access"):
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers = []
            logger.propagate = True


# --- structured logs ----------------------------------------------------------------------
#
# Every line goes through the standard library's logging (Django's LOGGING), formatted by
# structlog: one JSON object per line (LOG_FORMAT=json, the production default) or
# `key=value` text for a terminal (LOG_FORMAT=text). Lines logged while a request is served
# carry its `request_id` (structlog's context variables).

# Keys whose values are never written, whatever logs them.
SECRET_KEYS = frozenset(
    {"password", "token", "ticket", "access_token", "authorization", "secret", "cookie"}
)


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: secret-named fields and secret query parameters go."""
    for key, value in event.items():
        if key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            if "=" in value:  # a secret parameter has one; most values do not
                event[key] = redact(value)
        elif not isinstance(value, _PLAIN) and not key.startswith("_"):
            # An object (Django's `request` extra): its text, as the renderer would write
            # it, less the secrets (a request's text has its query string).
            event[key] = redact(str(value))
    return event


_PLAIN = (int, float, bool, type(None), list, tuple, dict)


def _drop_formatted_leftovers(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """A record another handler formatted first carries `message` (and maybe `asctime`),
    which `ExtraAdder` would take for extra fields: the line has them already."""
    event.pop("message", None)
    event.pop("asctime", None)
    return event


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # %-style arguments of standard-library calls, already redacted by RedactSecrets.
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.stdlib.ExtraAdder(),
        _drop_formatted_leftovers,
        redact_event,
    ]


def formatter(fmt: str) -> logging.Formatter:
    """The LOGGING formatter for LOG_FORMAT `json` or `text`."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # Plain tracebacks: the default (rich's, when installed) renders each frame's
        # source and takes the interpreter lock for a long while, which a server logging
        # many failures at once (the database away) cannot afford.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    processors: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        processors.append(structlog.processors.format_exc_info)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(), processors=[*processors, renderer]
    )


def configure_structlog() -> None:
    """structlog's own loggers (`structlog.get_logger`) hand their events to the standard
    library, so both kinds of line leave through the same handler and format."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
