"""Secrets never reach the logs: `?token=` and `?ticket=` values in logged request lines
(uvicorn's access log and its WebSocket handshake lines, and anything Django logs) are
replaced with `[redacted]`."""

from __future__ import annotations

import logging
import re

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


def install_on_server_loggers() -> None:
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
