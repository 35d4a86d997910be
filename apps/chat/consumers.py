"""The chat WebSocket: translates frames to service calls and events to frames.

Client frames: `{"event": name, "data": {...}, "ref"?: any}`, handled by the `on_<event>`
methods. Each handled frame gets its reply (`joined`, `left`, `message_sent`, `read`,
`sync`; typing gets none) carrying the frame's `ref`; a bad frame gets an `error` frame
with the `ref`, the connection stays open and nothing is stored.

Server frames arrive from the process's hub (`apps.chat.hub`) already encoded, and wait
in the socket's bounded outbox until its client takes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from contextlib import suppress
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import structlog
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, MembershipStatus, Role
from apps.accounts.selectors import TOKEN_USER
from apps.chat import events, policy, selectors, services
from apps.chat.hub import Hub, hub
from apps.chat.limits import message_allowed
from apps.chat.locate import channel_located
from apps.chat.models import MessageKind
from apps.chat.payloads import message_payload
from apps.chat.shutdown import GOING_AWAY_ERROR, going_away
from apps.chat.wire import Wire
from apps.chat.ws import Backlog, header, in_tenant, run_db
from apps.core import parsers
from apps.core.closecodes import (
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNKNOWN_HOST,
)
from apps.core.db import cursor_as_it_stands, public_table
from apps.core.errors import DB_RETRY_AFTER, UNAVAILABLE, database_unavailable
from apps.core.exceptions import ApplicationError, InvalidInput, NotFound
from apps.core.limits import RENEW_SECONDS, SocketLeases
from apps.core.metrics import SOCKET_SESSIONS, SOCKETS_OPEN, close_code_label
from apps.core.middleware import request_id_of
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant, TenantStatus

logger = logging.getLogger(__name__)
session_logger = logging.getLogger("apps.sockets")
ROUTE = "ws/chat/"

TYPING_TTL = 5.0  # seconds a typing indicator lasts without a new `typing`
BADGE_INTERVAL = 1.0  # at most one `unread_changed` per channel and socket in this time
CLOSE_WAIT = 5.0  # seconds a closing socket's client gets to take its last frames
LEAVE_GRACE = 0.05  # seconds a stopping process answers frames already on their way

Reply = tuple[str, dict[str, Any]] | None


def _located_group(actor: Actor, channel_id: object) -> tuple[str, str | None]:
    """The channel's group, and its notes group for someone who sees its notes."""
    with channel_located(actor, channel_id) as located:
        channel = located.channel
        notes = policy.sees_notes(actor, channel)
        return (
            events.channel_group(located.schema, channel.pk),
            events.notes_group(located.schema, channel.pk) if notes else None,
        )


def _send_message(actor: Actor, channel_id: object, data: dict[str, Any]) -> dict[str, Any]:
    message_allowed(actor.user.pk)  # MESSAGE_RATE, counted with the user's REST sends
    return message_payload(
        services.message_send(
            actor=actor,
            channel_id=channel_id,
            content=data.get("content"),
            kind=data.get("kind", MessageKind.USER),
            canned_response_id=data.get("cannedResponseId"),
        )
    )


def _sync(actor: Actor, channel_id: object, after: object) -> dict[str, Any]:
    with channel_located(actor, channel_id) as located:
        page = selectors.message_page(
            actor=actor,
            located=located,
            after=after,
            limit=selectors.MAX_PAGE_SIZE,
        )
        return {
            "channelId": str(located.channel.pk),
            "messages": [message_payload(m) for m in page.messages],
            "hasMore": page.has_more,
        }


def _still_visible(actor: Actor, channel_ids: list[str]) -> set[str]:
    """Which of these channels the actor may still see."""
    visible = set()
    for channel_id in channel_ids:
        try:
            with channel_located(actor, channel_id):
                visible.add(channel_id)
        except NotFound:
            pass
    return visible


Refusal = tuple[int, str, str]  # close code, error code, message

NOT_A_MEMBER: Refusal = (CLOSE_FORBIDDEN, "membership_revoked", "Your access has ended.")

# The tenant's status, whether the token still works, and the user's active role there.
_ADMITTED_SQL = f"""
    SELECT t.status,
        EXISTS (SELECT 1 FROM {TOKEN_USER}
                WHERE k.id = %(token)s AND k.expires_at > %(now)s),
        (SELECT m.role FROM {public_table(Membership._meta.db_table)} m
         WHERE m.user_id = %(user)s AND m.tenant_id = t.id
           AND m.status = '{MembershipStatus.ACTIVE}')
    FROM {public_table(Tenant._meta.db_table)} t WHERE t.id = %(tenant)s
"""


def _admitted(actor: Actor, token_id: int) -> Refusal | Actor:
    """The connection's actor as of now, or why it may no longer be connected: one
    written-out query (every connect asks it), on whatever search path the thread is on."""
    params = {"token": token_id, "now": timezone.now(), "user": actor.user.pk}
    with cursor_as_it_stands() as cursor:
        cursor.execute(_ADMITTED_SQL, {**params, "tenant": actor.tenant.pk})
        row = cursor.fetchone()
    if row is None:
        return (CLOSE_UNKNOWN_HOST, "tenant_deleted", "This organisation no longer exists.")
    status, token_live, role = row
    if status == TenantStatus.SUSPENDED:
        return (CLOSE_FORBIDDEN, SUSPENDED_CODE, SUSPENDED_MESSAGE)
    if not token_live:
        return (CLOSE_UNAUTHENTICATED, "credentials_revoked", "Your session has ended.")
    if actor.tenant.is_public:
        role = None
    if role is None and not actor.is_super_admin:
        return NOT_A_MEMBER
    return dataclasses.replace(actor, role=Role(role) if role else None)


def _room_key(channel_id: object) -> str:
    try:
        return str(UUID(str(channel_id)))
    except ValueError:
        return str(channel_id)


def _required(data: dict[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if data.get(name) in (None, "")]
    if missing:
        raise InvalidInput(
            "Missing fields.", fields={name: ["This field is required."] for name in missing}
        )
    return [data[name] for name in names]


def _problem(error: Exception) -> dict[str, Any]:
    """The `error` frame's data for a failure below the protocol: the database away
    (`service_unavailable`, retry later), or a bug (`internal_error`, logged)."""
    if database_unavailable(error):
        logger.warning("Socket frame failed, database unavailable: %s", error)
        code, message = UNAVAILABLE
        return {"code": code, "message": message, "retryAfter": DB_RETRY_AFTER}
    logger.exception("Socket frame failed")
    return {"code": "internal_error", "message": "Internal server error."}


_renewers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


async def _renew_leases() -> None:
    """Keeps this process's sockets counted (WS_MAX_SOCKETS_PER_USER) while they are
    open; if the process dies, its leases lapse by themselves."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        await loop.run_in_executor(None, SocketLeases.renew)


def _ensure_renewer() -> None:
    loop = asyncio.get_running_loop()
    task = _renewers.get(loop)
    if task is None or task.done():
        _renewers.clear()  # tasks of loops that ended
        _renewers[loop] = loop.create_task(_renew_leases())


class RetryLater(ApplicationError):
    """Refused for now; the `error` frame says after how many seconds to try again."""

    def __init__(self, message: str, *, code: str, retry_after: float) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ChatConsumer(AsyncWebsocketConsumer):
    actor: Actor
    hub: Hub
    socket_id: str
    schema: str
    user_id: int
    token_id: int
    rooms: dict[str, str]  # joined channel id -> its group, checked against the database once
    notes: dict[str, str]  # joined ticket id -> its notes group, for those who see notes
    closing = False
    leaving = False  # the process is stopping: no new frames are handled
    in_flight: asyncio.Future[None] | None = None  # the frame being handled
    registered = False
    close_code: int | None = None  # the first close, by the server or the client
    frames_in = 0
    expiry: asyncio.TimerHandle | None = None
    rechecking: asyncio.Task[None] | None = None
    wire: Wire | None = None  # straight to the connection (apps.chat.wire), when it can

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Frames in, one at a time. Events reach the socket through its process's hub
        (`push`), so there is no layer channel per socket and nothing else to wait on."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        started = time.perf_counter()
        # This connection's task (and the lines it logs) carries the request id.
        request_id = request_id_of(header(scope, b"x-request-id"))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            with suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            await self._release()  # also when a handler failed
            self._log_session(time.perf_counter() - started)

    def _log_session(self, elapsed: float) -> None:
        """One line per socket session, at its end; the close code stands as its status."""
        code = self.close_code or 1006
        SOCKET_SESSIONS.labels(close_code_label(code)).inc()
        actor = self.scope.get("actor")
        session_logger.info(
            "socket",
            extra={
                "route": ROUTE,
                "status": code,
                "duration_ms": round(elapsed * 1000, 2),
                "tenant": actor.tenant.schema_name if actor else None,
                "user": actor.user.pk if actor else None,
                "frames_in": self.frames_in,
            },
        )

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.close_code is None:
            self.close_code = code if isinstance(code, int) and code is not True else 1000
        await super().close(code=code, reason=reason)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels' own, less its thread hop per frame to close the loop thread's old
        database connections: this consumer's database work runs on `ws.run_db` threads,
        which look after theirs."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        await self.accept()
        self.wire = Wire.of(self.base_send)
        if going_away():
            self.closing = True  # this process is stopping: connect to another one
            await self.close(code=CLOSE_GOING_AWAY)
            return
        if self.scope.get("close_code"):
            self.closing = True  # frames that still arrive are ignored
            if self.scope.get("close_error"):
                code, message = self.scope["close_error"]
                await self.send(
                    text_data=events.encode("error", {"code": code, "message": message})
                )
            await self.close(code=self.scope["close_code"])
            return
        self.actor = self.scope["actor"]
        self.socket_id = self.scope.get("socket_id") or uuid4().hex
        _ensure_renewer()
        self.schema = self.actor.tenant.schema_name
        self.user_id = self.actor.user.pk
        self.token_id = self.scope["token_id"]
        self.rooms = {}
        self.notes = {}
        self.sent_at: deque[float] = deque()
        self.typing_expiry: dict[str, asyncio.Task[None]] = {}
        self.outbox: deque[str] = deque()
        self.outbox_limit = settings.WS_SEND_QUEUE
        self.writer: asyncio.Task[None] | None = None
        self.closing = False
        self.badges: dict[str, int] = {}
        self.badge_timer: asyncio.TimerHandle | None = None
        self.badge_sent_at = float("-inf")
        self.personal = [
            events.user_group(self.schema, self.user_id),
            events.account_group(self.user_id),
            events.tenant_group(self.schema),
            events.badge_group(self.schema),
        ]
        if self.actor.is_super_admin:
            self.personal.append(events.SUPER_ADMINS_GROUP)
        self.hub = hub()
        await self.hub.register(self)
        self.registered = True
        SOCKETS_OPEN.inc()
        self.expiry = self._expire_with(self.scope["token_expires_at"])
        for group in self.personal:
            await self.hub.join(group, self)
        # A suspension, revocation or role change that committed after the handshake's
        # check but before joining the groups above did not reach this socket: look again.
        try:
            admitted = await run_db(_admitted, self.actor, self.token_id)
        except Exception as error:
            if not database_unavailable(error):
                raise
            self.close_with(CLOSE_TRY_AGAIN, *UNAVAILABLE)
            return
        if isinstance(admitted, Actor):
            self.actor = admitted
        else:
            self.close_with(*admitted)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """As Channels' own, less its hop to the loop's sync thread to close database
        connections there (this consumer opens none on it: `ws.run_db`), which cost a
        reconnect storm a few percent of its CPU; the hub leaves the groups."""
        await self.disconnect(message.get("code", 1005))
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
        await self._release()

    async def _release(self) -> None:
        """Leaves the hub and stops this socket's timers and writer, once."""
        if not self.registered:
            return
        self.registered = False
        SOCKETS_OPEN.dec()
        self.closing = True
        for task in self.typing_expiry.values():
            task.cancel()
        if self.badge_timer is not None:
            self.badge_timer.cancel()
        if self.expiry is not None:
            self.expiry.cancel()
        if self.rechecking is not None:
            self.rechecking.cancel()
        if self.writer is not None:
            self.writer.cancel()
        groups = [*self.personal, *self.rooms.values(), *self.notes.values()]
        await self.hub.unregister(self, groups)

    # --- client -> server ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Every frame gets its reply or an `error` frame; nothing a client sends, and no
        failure below (the database away, a bug), ends the connection."""
        self.frames_in += 1
        if self.closing:
            return  # being closed (too slow, or the tenant was suspended): nothing more
        if self.leaving:
            ref = None
            with suppress(ApplicationError):
                ref = self._parse(text_data)[2]
            self._send_error(GOING_AWAY_ERROR, ref)
            return
        self.in_flight = handling = asyncio.get_running_loop().create_future()
        try:
            await self._receive(text_data)
        finally:
            handling.set_result(None)
            self.in_flight = None

    async def go_away(self) -> None:
        """The process is stopping (`apps.chat.shutdown`): finish the frame being handled,
        hand the client what is queued, and close with 1001 so it reconnects elsewhere."""
        if self.closing or self.leaving:
            return
        self.leaving = True
        if self.in_flight is not None:
            await asyncio.shield(self.in_flight)
        # Frames the client sent before the stop and the server has read, or is reading,
        # but this socket has not taken up yet: each gets its `going_away` error first.
        await asyncio.sleep(LEAVE_GRACE)
        if self.closing:
            return
        self.closing = True
        await self._close_when_sent(CLOSE_GOING_AWAY)

    async def _receive(self, text_data: str | None) -> None:
        ref = None
        try:
            event, data, ref = self._parse(text_data)
            self._rate_limit()
            reply = await self._handle(event, data)
            if reply is not None:
                name, body = reply
                self._send(name, body if ref is None else {**body, "ref": ref})
        except ApplicationError as error:
            self._send_error(self._refusal(error), ref)
        except Exception as error:
            self._send_error(_problem(error), ref)

    async def _handle(self, event: str, data: dict[str, Any]) -> Reply:
        handler = getattr(self, f"on_{event}", None)
        if handler is None:
            raise InvalidInput(f"Unknown event {event[:100]!r}.", code="unknown_event")
        reply: Reply = await handler(data)
        return reply

    @staticmethod
    def _refusal(error: ApplicationError) -> dict[str, Any]:
        problem: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.fields:
            problem["fields"] = error.fields
        retry_after = getattr(error, "retry_after", None)  # RetryLater, RateLimited
        if retry_after is not None:
            problem["retryAfter"] = retry_after
        return problem

    def _send_error(self, problem: dict[str, Any], ref: Any) -> None:
        self._send("error", problem if ref is None else {**problem, "ref": ref})

    def _parse(self, text: str | None) -> tuple[str, dict[str, Any], Any]:
        if text is None:
            raise InvalidInput("Frames are JSON text.", code="bad_frame")
        if len(text) > settings.WS_MAX_FRAME_BYTES or (
            len(text.encode("utf-8", "surrogatepass")) > settings.WS_MAX_FRAME_BYTES
        ):
            raise InvalidInput("Frame too large.", code="frame_too_large")
        try:
            frame = parsers.loads(text)
        except parsers.TooDeep as too_deep:
            raise InvalidInput(str(too_deep), code="bad_request") from None
        except ValueError:
            raise InvalidInput("Frames are JSON text.", code="bad_frame") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("event"), str):
            raise InvalidInput('A frame is {"event": name, "data": {...}}.', code="bad_frame")
        data = frame.get("data", {})
        if not isinstance(data, dict):
            raise InvalidInput("data must be an object.", code="bad_frame")
        ref = frame.get("ref")
        if ref is not None and not isinstance(ref, (str, int)):
            raise InvalidInput("ref must be a string or a number.", code="bad_frame")
        return frame["event"], data, ref

    def _rate_limit(self) -> None:
        """At most WS_RATE_FRAMES frames in any WS_RATE_WINDOW seconds per connection."""
        now = time.monotonic()
        window = settings.WS_RATE_WINDOW
        while self.sent_at and now - self.sent_at[0] >= window:
            self.sent_at.popleft()
        if len(self.sent_at) >= settings.WS_RATE_FRAMES:
            raise RetryLater(
                "Too many frames; slow down.",
                code="rate_limited",
                retry_after=round(window - (now - self.sent_at[0]), 2),
            )
        self.sent_at.append(now)

    async def _db(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Past WS_DB_BACKLOG calls waiting in this process, or with the process more
        than WS_BEHIND_LIMIT behind (`Hub.overloaded`), a frame is refused at once
        (`server_busy`) rather than queued: past saturation the server keeps serving what
        it admits at full speed instead of falling behind on everything."""
        self._refuse_if_busy(backlog=True)
        return await in_tenant(self.actor.tenant, fn, *args, **kwargs)

    async def _join_db(self, fn: Any, /, *args: Any) -> Any:
        """A join waits its turn however long the backlog (only a process running behind
        refuses it): a socket has one frame in progress at a time, so joins queue no more
        calls than there are sockets, and a join is what a reconnecting client needs
        first. Refused in a reconnect storm, where the connects' own database calls fill
        the backlog, each would come back later and cost its call twice."""
        self._refuse_if_busy(backlog=False)
        return await in_tenant(self.actor.tenant, fn, *args)

    def _refuse_if_busy(self, *, backlog: bool) -> None:
        full = backlog and Backlog.full()
        if full or self.hub.overloaded():
            raise RetryLater(
                "The server is busy; retry shortly.",
                code="server_busy",
                retry_after=Backlog.retry_after() if full else self.hub.retry_after(),
            )

    async def on_join_channel(self, data: dict[str, Any]) -> Reply:
        (channel_id,) = _required(data, "channelId")
        group, notes = await self._join_db(_located_group, self.actor, channel_id)
        await self.hub.join(group, self)
        key = _room_key(channel_id)
        self.rooms[key] = group
        if notes is not None:
            await self.hub.join(notes, self)
            self.notes[key] = notes
        elif (joined_notes := self.notes.pop(key, None)) is not None:
            await self.hub.leave(joined_notes, self)
        # `notes`: this socket gets the ticket's internal notes, so `seq` runs without gaps
        # here; otherwise `publicSeq` does (a client looks for lost events by it).
        return "joined", {"channelId": str(channel_id), "notes": notes is not None}

    async def on_leave_channel(self, data: dict[str, Any]) -> Reply:
        (channel_id,) = _required(data, "channelId")
        key = _room_key(channel_id)
        for group in (self.rooms.pop(key, None), self.notes.pop(key, None)):
            if group is not None:
                await self.hub.leave(group, self)
        return "left", {"channelId": str(channel_id)}

    async def on_send_message(self, data: dict[str, Any]) -> Reply:
        """`{channelId, content}`; `kind: "NOTE"` for an internal note; `cannedResponseId`
        instead of `content` to send a saved answer."""
        (channel_id,) = _required(data, "channelId")
        if "cannedResponseId" not in data:
            _required(data, "content")
        return "message_sent", await self._db(_send_message, self.actor, channel_id, data)

    async def on_mark_read(self, data: dict[str, Any]) -> Reply:
        channel_id, message_id = _required(data, "channelId", "messageId")
        participant = await self._db(
            services.read_mark, actor=self.actor, channel_id=channel_id, message_id=message_id
        )
        return "read", {
            "channelId": str(channel_id),
            "lastReadSeq": participant.last_read_seq,
            "unreadCount": participant.unread_count,
        }

    async def on_sync(self, data: dict[str, Any]) -> Reply:
        """Resume after a disconnect: the messages after the last one seen, oldest first."""
        (channel_id,) = _required(data, "channelId")
        return "sync", await self._db(_sync, self.actor, channel_id, data.get("afterId", 0))

    async def on_typing(self, data: dict[str, Any]) -> None:
        group = self._typing("user_typing", data)
        self._cancel_typing(group)
        self.typing_expiry[group] = asyncio.create_task(self._expire_typing(group, data))

    async def on_stop_typing(self, data: dict[str, Any]) -> None:
        group = self._typing("user_stop_typing", data)
        self._cancel_typing(group)

    def _cancel_typing(self, group: str) -> None:
        task = self.typing_expiry.pop(group, None)
        if task is not None:
            task.cancel()

    async def _expire_typing(self, group: str, data: dict[str, Any]) -> None:
        """A typing indicator ends by itself when the client goes quiet."""
        await asyncio.sleep(TYPING_TTL)
        self.typing_expiry.pop(group, None)
        self._broadcast_typing(group, "user_stop_typing", data)

    def _typing(self, name: str, data: dict[str, Any]) -> str:
        """Not stored; not echoed to the sender. Only in a joined room, so no database
        call on this frequent frame: access was checked at join."""
        (channel_id,) = _required(data, "channelId")
        group = self.rooms.get(_room_key(channel_id))
        if group is None:
            raise InvalidInput("Join the channel first.", code="not_joined")
        self._broadcast_typing(group, name, data)
        return group

    def _broadcast_typing(self, group: str, name: str, data: dict[str, Any]) -> None:
        user = self.actor.user
        frame = events.encode(
            name,
            {
                "channelId": str(data["channelId"]),
                "userId": user.pk,
                "displayName": user.display_name,
            },
        )
        events.send_to_layer(
            [(group, {"type": "hub.frame", "group": group, "frame": frame, "skip": self.socket_id})]
        )

    # --- server -> client (called by the hub) ----------------------------------------------

    def push(self, frame: str) -> None:
        """Queues a frame. A socket whose client reads too slowly to keep its queue under
        WS_SEND_QUEUE frames is closed with 4408; it resyncs with `sync` on reconnect."""
        if self.closing:
            return
        if self.writer is None and self.wire is not None:  # nothing queued: straight out
            try:
                if self.wire.write(frame):
                    return
            except Exception:
                logger.exception("Could not write to socket %s; queueing", self.socket_id)
                self.wire = None  # its writer's `send` says what became of the connection
        if len(self.outbox) >= self.outbox_limit:
            self._too_slow()
            return
        self.outbox.append(frame)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            while self.outbox:
                # Straight to the server: the frame is JSON text already.
                await self.base_send({"type": "websocket.send", "text": self.outbox.popleft()})
        except Exception:  # the connection went away; disconnect() cleans up
            self.outbox.clear()
        finally:
            self.writer = None

    def _too_slow(self) -> None:
        self.closing = True
        self.outbox.clear()
        if self.writer is not None:
            self.writer.cancel()
        self.closer = asyncio.get_running_loop().create_task(self.close(code=CLOSE_TOO_SLOW))

    def badge(self, channel_id: str, unread: int) -> None:
        """A message arrived in a channel this socket's user takes part in. A joined room
        shows it as `new_message`; otherwise `unread_changed`, coalesced to at most one per
        channel every BADGE_INTERVAL seconds, carrying the latest count."""
        if channel_id in self.rooms:
            return
        self.badges[channel_id] = unread
        if self.badge_timer is None:
            loop = asyncio.get_running_loop()
            delay = self.badge_sent_at + BADGE_INTERVAL - loop.time()
            if delay <= 0:
                self._flush_badges()
            else:
                self.badge_timer = loop.call_later(delay, self._flush_badges)

    def _flush_badges(self) -> None:
        self.badge_timer = None
        self.badge_sent_at = asyncio.get_running_loop().time()
        badges, self.badges = self.badges, {}
        for channel_id, unread in badges.items():
            self._send("unread_changed", {"channelId": channel_id, "unreadCount": unread})

    def close_with(self, code: int, error: str, message: str) -> None:
        """Says why, then closes (the tenant was suspended or deleted)."""
        if self.closing:
            return
        self._send("error", {"code": error, "message": message})
        if self.closing:  # the outbox was full: closed as too slow already
            return
        self.closing = True
        self.closer = asyncio.get_running_loop().create_task(self._close_when_sent(code))

    async def _close_when_sent(self, code: int) -> None:
        if self.writer is not None:
            await asyncio.wait([self.writer], timeout=CLOSE_WAIT)
        await self.close(code=code)

    def _expire_with(self, expires_at: datetime) -> asyncio.TimerHandle:
        """The socket lives no longer than its token."""
        delay = max((expires_at - timezone.now()).total_seconds(), 0)
        return asyncio.get_running_loop().call_later(
            delay,
            self.close_with,
            CLOSE_UNAUTHENTICATED,
            "token_expired",
            "Your session has expired; sign in again.",
        )

    def member_changed(self, role: str | None) -> None:
        """The user's role on this host changed: act in the new one, and leave the rooms
        it no longer shows (the services that remove someone from a channel also send
        `leave_rooms`, at once; this covers any other loss of sight)."""
        if role is None and not self.actor.is_super_admin:
            self.close_with(*NOT_A_MEMBER)
            return
        self.actor = dataclasses.replace(self.actor, role=Role(role) if role else None)
        if not (self.actor.is_staff_member or self.actor.is_super_admin):
            # No longer answering tickets: no note from now on (within this dispatch).
            for group in self.notes.values():
                self.hub.drop(group, self)
            self.notes.clear()
        if self.rooms and not self.closing:
            if self.rechecking is not None:
                self.rechecking.cancel()
            self.rechecking = asyncio.get_running_loop().create_task(self._recheck_rooms())

    async def _recheck_rooms(self) -> None:
        joined = list(self.rooms)
        visible = await in_tenant(self.actor.tenant, _still_visible, self.actor, joined)
        self.leave_rooms([channel_id for channel_id in joined if channel_id not in visible])

    def leave_rooms(self, channel_ids: list[str]) -> None:
        """The user no longer takes part in these channels: none of their events, typing
        or badge updates from now on, and a `channel_left` frame for each joined room."""
        for channel_id in channel_ids:
            key = _room_key(channel_id)
            self.badges.pop(key, None)
            notes = self.notes.pop(key, None)
            if notes is not None:
                self.hub.drop(notes, self)
            group = self.rooms.pop(key, None)
            if group is None:
                continue
            self.hub.drop(group, self)
            self._cancel_typing(group)
            self._send("channel_left", {"channelId": key})

    def read_up_to(self, channel_id: str, unread: int) -> None:
        """The user read in that channel (on any socket): the new count now, and no
        older coalesced count after it."""
        self.badges.pop(channel_id, None)
        self._send("unread_changed", {"channelId": channel_id, "unreadCount": unread})

    def _send(self, event: str, data: dict[str, Any]) -> None:
        self.push(events.encode(event, data))
