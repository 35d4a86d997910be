"""WebSocket close codes (RFC 6455 leaves 4000-4999 to applications), shared by the
socket layer and by the services that close sockets."""

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_HOST = 4404
CLOSE_TOO_SLOW = 4408  # the client did not read its frames fast enough
