"""WebSocket close codes (RFC 6455 leaves 4000-4999 to applications), shared by the
socket layer and by the services that close sockets."""

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_HOST = 4404
CLOSE_TOO_SLOW = 4408  # the client did not read its frames fast enough
CLOSE_TOO_MANY = 4429  # the user has WS_MAX_SOCKETS_PER_USER sockets open already
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": the database was unavailable
CLOSE_GOING_AWAY = 1001  # RFC 6455 "going away": the server process is stopping
