"""The chat WebSocket: translates frames to service calls and events to frames.

Client frames: `{"event": name, "data": {...}, "ref"?: any}`, handled by the `on_<event>`
methods. Each handled frame gets its reply (`joined`, `left`, `message_sent`, `read`,
`sync`; typing gets none) carrying the frame's `ref`; a bad frame gets an `error` frame
with the `ref`, the connection stays open and nothing is stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from uuid import UUID

from channels.generic.websocket import AsyncWebsocketConsumer

from apps.accounts.actors import Actor
from apps.chat import events, selectors, services
from apps.chat.locate import channel_located
from apps.chat.payloads import message_payload
from apps.chat.ws import CLOSE_FORBIDDEN, in_tenant
from apps.core.exceptions import ApplicationError, InvalidInput
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant, TenantStatus

MAX_FRAME_BYTES = 64 * 1024
RATE_LIMIT_FRAMES = 30  # per connection and RATE_WINDOW seconds
RATE_WINDOW = 5.0
TYPING_TTL = 5.0  # seconds a typing indicator lasts without a new `typing`

Reply = tuple[str, dict[str, Any]] | None


def _located_group(actor: Actor, channel_id: object) -> str:
    with channel_located(actor, channel_id) as located:
        return events.channel_group(located.schema, located.channel.pk)


def _sync(actor: Actor, channel_id: object, after: object) -> dict[str, Any]:
    with channel_located(actor, channel_id) as located:
        page = selectors.message_page(located=located, after=after, limit=selectors.MAX_PAGE_SIZE)
        return {
            "channelId": str(located.channel.pk),
            "messages": [message_payload(m) for m in page.messages],
            "hasMore": page.has_more,
        }


def _tenant_suspended(tenant_id: int) -> bool:
    return Tenant.objects.filter(pk=tenant_id, status=TenantStatus.SUSPENDED).exists()


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


class ChatConsumer(AsyncWebsocketConsumer):
    actor: Actor
    rooms: dict[str, str]  # joined channel id -> its group, checked against the database once

    async def connect(self) -> None:
        await self.accept()
        if self.scope.get("close_code"):
            if self.scope.get("close_error"):
                code, message = self.scope["close_error"]
                await self._send("error", {"code": code, "message": message})
            await self.close(code=self.scope["close_code"])
            return
        self.actor = self.scope["actor"]
        self.rooms = {}
        self.sent_at: list[float] = []
        self.typing_expiry: dict[str, asyncio.Task[None]] = {}
        schema = self.actor.tenant.schema_name
        self.personal = [events.user_group(schema, self.actor.user.pk), events.tenant_group(schema)]
        if self.actor.is_super_admin:
            self.personal.append(events.SUPER_ADMINS_GROUP)
        for group in self.personal:
            await self.channel_layer.group_add(group, self.channel_name)
        # A suspension that committed after the handshake's check but before joining the
        # tenant's group above would not reach this socket: look once more.
        if await self._db(_tenant_suspended, self.actor.tenant.pk):
            await self._send("error", {"code": SUSPENDED_CODE, "message": SUSPENDED_MESSAGE})
            await self.close(code=CLOSE_FORBIDDEN)

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "typing_expiry", {}).values():
            task.cancel()
        for group in [*getattr(self, "personal", []), *getattr(self, "rooms", {}).values()]:
            await self.channel_layer.group_discard(group, self.channel_name)

    # --- client -> server ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        ref = None
        try:
            event, data, ref = self._parse(text_data)
            self._rate_limit()
            handler = getattr(self, f"on_{event}", None)
            if handler is None:
                raise InvalidInput(f"Unknown event {event!r}.", code="unknown_event")
            reply = await handler(data)
            if reply is not None:
                name, body = reply
                await self._send(name, body if ref is None else {**body, "ref": ref})
        except ApplicationError as error:
            body: dict[str, Any] = {"code": error.code, "message": error.message}
            if error.fields:
                body["fields"] = error.fields
            if ref is not None:
                body["ref"] = ref
            await self._send("error", body)

    def _parse(self, text: str | None) -> tuple[str, dict[str, Any], Any]:
        if text is None:
            raise InvalidInput("Frames are JSON text.", code="bad_frame")
        if len(text.encode()) > MAX_FRAME_BYTES:
            raise InvalidInput("Frame too large.", code="frame_too_large")
        try:
            frame = json.loads(text)
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
        now = time.monotonic()
        self.sent_at = [t for t in self.sent_at if now - t < RATE_WINDOW]
        if len(self.sent_at) >= RATE_LIMIT_FRAMES:
            raise ApplicationError("Too many frames; slow down.", code="rate_limited")
        self.sent_at.append(now)

    async def _db(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return await in_tenant(self.actor.tenant, fn, *args, **kwargs)

    async def on_join_channel(self, data: dict[str, Any]) -> Reply:
        (channel_id,) = _required(data, "channelId")
        group = await self._db(_located_group, self.actor, channel_id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.rooms[_room_key(channel_id)] = group
        return "joined", {"channelId": str(channel_id)}

    async def on_leave_channel(self, data: dict[str, Any]) -> Reply:
        (channel_id,) = _required(data, "channelId")
        group = self.rooms.pop(_room_key(channel_id), None)
        if group is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        return "left", {"channelId": str(channel_id)}

    async def on_send_message(self, data: dict[str, Any]) -> Reply:
        channel_id, content = _required(data, "channelId", "content")
        message = await self._db(
            services.message_send, actor=self.actor, channel_id=channel_id, content=content
        )
        return "message_sent", await self._db(message_payload, message)

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
        group = await self._typing("user_typing", data)
        self._cancel_typing(group)
        self.typing_expiry[group] = asyncio.create_task(self._expire_typing(group, data))

    async def on_stop_typing(self, data: dict[str, Any]) -> None:
        group = await self._typing("user_stop_typing", data)
        self._cancel_typing(group)

    def _cancel_typing(self, group: str) -> None:
        task = self.typing_expiry.pop(group, None)
        if task is not None:
            task.cancel()

    async def _expire_typing(self, group: str, data: dict[str, Any]) -> None:
        """A typing indicator ends by itself when the client goes quiet."""
        await asyncio.sleep(TYPING_TTL)
        self.typing_expiry.pop(group, None)
        await self._broadcast_typing(group, "user_stop_typing", data)

    async def _typing(self, name: str, data: dict[str, Any]) -> str:
        """Not stored; not echoed to the sender. Only in a joined room, so no database
        call on this frequent frame: access was checked at join."""
        (channel_id,) = _required(data, "channelId")
        group = self.rooms.get(_room_key(channel_id))
        if group is None:
            raise InvalidInput("Join the channel first.", code="not_joined")
        await self._broadcast_typing(group, name, data)
        return group

    async def _broadcast_typing(self, group: str, name: str, data: dict[str, Any]) -> None:
        user = self.actor.user
        await self.channel_layer.group_send(
            group,
            {
                "type": "chat.typing",
                "event": name,
                "sender": self.channel_name,
                "data": {
                    "channelId": str(data["channelId"]),
                    "userId": user.pk,
                    "displayName": user.display_name,
                },
            },
        )

    # --- server -> client ------------------------------------------------------------------

    async def chat_event(self, message: dict[str, Any]) -> None:
        await self._send(message["event"], message["data"])

    async def sockets_close(self, message: dict[str, Any]) -> None:
        """The tenant was suspended or deleted: say why, then close."""
        await self._send("error", {"code": message["error"], "message": message["message"]})
        await self.close(code=message["code"])

    async def chat_typing(self, message: dict[str, Any]) -> None:
        if message["sender"] != self.channel_name:
            await self._send(message["event"], message["data"])

    async def _send(self, event: str, data: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"event": event, "data": data}))
