"""Process-local fan-out: one subscription per group per process, frames delivered to the
process's own sockets.

Each event loop that serves sockets has one `Hub`. The hub holds one channel-layer channel
and adds it to a group when the first local socket joins the group, and discards it when
the last one leaves. An event published to a group therefore reaches each process once
(one Redis publish, whatever the number of members), and the process hands the frame,
already encoded by the publisher, to each local member's bounded outbox: no socket
re-serialises anything.

A person's groups (`user_group`, `account_group`) are not subscribed one by one: they
ride on a group per host and one for every account (`carrier`), which a process
subscribes to once; a layer message names the group it is for (`group`, or `groups` for
several people on one carrier: one publish per host, not per person), and a process with
no local member of it drops it.

Layer messages (`apps.chat.events` builds them):

- `hub.frame {group, frame, skip?}`: send `frame` (JSON text) to every local member of
  `group`, except the socket whose id is `skip` (typing is not echoed).
- `hub.badges {group, channelId, seq, readers: [[userId, lastReadSeq], ...], room?,
  frame?}`: a message arrived in a channel; each local socket of a listed user on the
  host of the group's schema (`badge_group`) that has not joined the channel gets a
  coalesced `unread_changed`. With `room`, the local members of that group get `frame`
  (the `new_message`) first: channels shown on one host only send their messages this
  way, one publish per message.
- `hub.read {group, channelId, unreadCount}`: the user read up to a point; each local
  member of the (user) group sends `unread_changed` now, dropping any coalesced one.
- `hub.close {group, code, error, message}`: every local member gets an `error` frame and
  is closed with `code`.
- `hub.revoke {group, tokenIds, code, error, message}`: as `hub.close`, for the local
  members opened with one of `tokenIds` (all of them when null): credentials revoked.
- `hub.member {group, role}`: the members (one person's sockets on one host) act in
  `role` from now on and leave the rooms they may no longer see.
- `hub.leave {group, channels}`: the members leave these channels' rooms at once.
- `hub.probe`: sent by the hub to its own channel every EVENTS_PROBE_INTERVAL seconds.

Commands travel the same layer as events and are handled in the order they arrive, so
no event that arrives after a command is delivered against it.

**When the layer fails** (Redis unreachable): a probe that cannot be published, or that
has not come back (nor anything else arrived) within three intervals, or a publish of
this process that failed, puts the hub in the delayed state: every local socket gets
`events_delayed` (once), and joins are kept locally. When a probe comes back, the hub
subscribes again to every group it holds (redis-py resubscribes what it had; groups
joined meanwhile are added now), leaves the delayed state and sends `events_resumed`,
after which clients `sync` their rooms.
Events published while Redis was down are lost; the database has every message.

**When the process falls behind** (with WS_BEHIND_LIMIT set): a timer measures every
LAG_TICK seconds how late the loop runs what is due (`lag`, the `event_loop_lag_seconds`
gauge), and the events this process published (`by`, with `at` their publishing time on
its monotonic clock) give how long events take to come back through the layer (`delay`,
a moving average, the `chat_event_delay_seconds` gauge): events queue up in the layer's
connection while the loop is busy, even when each of its turns is short. A process whose
sockets send nothing measures no delay, and needs none: it only refuses what they send.
Past the limit on either, the process is saturated, and consumers refuse frames that
would add work (`server_busy`, `overloaded`), so what was admitted is still delivered at
full speed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable
from typing import Any, Protocol
from uuid import uuid4

from channels.layers import get_channel_layer
from django.conf import settings

from apps.core.metrics import EVENT_DELAY, LAYER_ERRORS, LOOP_LAG, Tally

logger = logging.getLogger(__name__)

DELAYED_FRAME = '{"event":"events_delayed","data":{}}'
RESUMED_FRAME = '{"event":"events_resumed","data":{}}'
PROBE_MISSES = 3  # probes not back after this many intervals: events are not arriving
LAG_TICK = 0.05  # seconds between the loop-lag timer's measurements
DELAY_STALE = 1.0  # seconds after which the last events' delay no longer says anything
PROCESS = uuid4().hex  # this process, as the publisher of layer messages (`by`)


def badge_group(schema: str) -> str:
    """Every process serving a socket on the tenant's host (not each socket)."""
    return f"t.{schema}.badges"


def _badge_schema(group: str) -> str:
    return group[len("t.") : -len(".badges")]


def user_group(schema: str, user_id: int) -> str:
    """One person's sockets on the tenant's host."""
    return f"t.{schema}.u.{user_id}"


def account_group(user_id: int) -> str:
    """Every socket of one person, on every host (the console's included)."""
    return f"user.{user_id}"


ACCOUNTS_CARRIER = "users"


def carrier(group: str) -> str:
    """The layer group that carries `group`'s events. A person's groups ride on one group
    per host (`t.<schema>.users`) and one for every account (`users`), so a process
    subscribes once per host it serves rather than twice per person who connects (a
    subscription and its end were about a sixth of a connect's CPU); the hub hands each
    event to the local members of the group it names, and a process holding none drops
    it."""
    head, dot, user = group.rpartition(".")
    if dot and user.isdigit():
        if head == "user":
            return ACCOUNTS_CARRIER
        if head.startswith("t.") and head.endswith(".u"):
            return f"{head[:-2]}.users"
    return group


class Socket(Protocol):
    socket_id: str
    schema: str
    user_id: int
    token_id: int

    def push(self, frame: str) -> None: ...

    def badge(self, channel_id: str, unread: int) -> None: ...

    def read_up_to(self, channel_id: str, unread: int) -> None: ...

    def close_with(self, code: int, error: str, message: str) -> None: ...

    def member_changed(self, role: str | None) -> None: ...

    def leave_rooms(self, channel_ids: list[str]) -> None: ...

    async def go_away(self) -> None: ...


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.loop = asyncio.get_running_loop()
        self.channel: str | None = None
        self.groups: dict[str, set[Socket]] = {}  # group -> its local members
        self.carriers: dict[str, set[str]] = {}  # subscribed layer group -> groups it carries
        self.users: dict[tuple[str, int], set[Socket]] = {}
        self.sockets = 0
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._started: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._unsubscribing: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None
        self.delayed = False  # the layer is failing: events may not arrive
        self._probe_back = self.loop.time()
        self._recovering: asyncio.Task[None] | None = None
        self.lag = 0.0  # seconds the loop ran late, as last measured
        self.delay = 0.0  # seconds events took to arrive, lately
        self._delay_at = float("-inf")  # when an event last told the delay
        self._lag_timer: asyncio.Task[None] | None = None

    # --- membership -----------------------------------------------------------------------

    async def register(self, socket: Socket) -> None:
        self.sockets += 1  # first: the hub stays up while anyone is registering
        if self._started is None:
            self._started = self.loop.create_task(self._start())
        started = self._started
        try:
            await asyncio.shield(started)
        except BaseException:
            self.sockets -= 1
            if started.done() and self._started is started:
                self._started = None  # the next socket tries again
            raise
        self.users.setdefault((socket.schema, socket.user_id), set()).add(socket)
        if self.delayed:
            socket.push(DELAYED_FRAME)

    async def _start(self) -> None:
        self.channel = await self.layer.new_channel()
        self._pump = self.loop.create_task(self._run(self.channel))
        self._probe_back = self.loop.time()
        self._watch = self.loop.create_task(self._probe(self.channel))
        if settings.WS_BEHIND_LIMIT > 0:
            self._lag_timer = self.loop.create_task(self._measure_lag())

    async def unregister(self, socket: Socket, groups: list[str]) -> None:
        for group in groups:
            await self.leave(group, socket)
        key = (socket.schema, socket.user_id)
        mine = self.users.get(key)
        if mine is not None:
            mine.discard(socket)
            if not mine:
                del self.users[key]
        self.sockets -= 1
        if self.sockets == 0:
            # Nobody left here: stop listening; the next socket starts a new hub.
            for task in (self._pump, self._watch, self._recovering, self._lag_timer):
                if task is not None:
                    task.cancel()
            if _hubs.get(self.loop) is self:
                del _hubs[self.loop]

    async def join(self, group: str, socket: Socket) -> None:
        """Returns once the process receives the group's events."""
        layer_group = carrier(group)
        while True:
            pending = self._subscribing.get(layer_group)
            if pending is not None:
                await asyncio.shield(pending)
                continue  # look again: that subscription may have failed, or emptied since
            carried = self.carriers.get(layer_group)
            if carried is None:
                carried = self.carriers[layer_group] = set()
                ready = self._subscribing[layer_group] = self.loop.create_future()
                try:
                    await self.layer.group_add(layer_group, self.channel)
                except Exception:
                    # The layer is down: kept here, subscribed again when it returns.
                    logger.warning("Could not subscribe to %s; events delayed", layer_group)
                    LAYER_ERRORS.labels("subscribe").inc()
                    self.events_failed()
                except BaseException:
                    if not carried:
                        del self.carriers[layer_group]
                    raise
                finally:
                    ready.set_result(None)
                    del self._subscribing[layer_group]
            carried.add(group)
            self.groups.setdefault(group, set()).add(socket)
            return

    async def leave(self, group: str, socket: Socket) -> None:
        members = self.groups.get(group)
        if members is None or socket not in members:
            return
        members.discard(socket)
        await self._unsubscribe_if_empty(group)

    def drop(self, group: str, socket: Socket) -> None:
        """Leaves at once, within the event being dispatched: the socket gets none of the
        group's later events. The subscription ends afterwards if nobody is left."""
        members = self.groups.get(group)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if not members:
            task = self.loop.create_task(self._unsubscribe_if_empty(group))
            self._unsubscribing.add(task)
            task.add_done_callback(self._unsubscribing.discard)

    async def _unsubscribe_if_empty(self, group: str) -> None:
        # A socket may have joined in between (the group stayed subscribed for it).
        if self.groups.get(group) or group not in self.groups:
            return
        del self.groups[group]
        layer_group = carrier(group)
        carried = self.carriers.get(layer_group)
        if carried is None:
            return
        carried.discard(group)
        if carried or layer_group in self._subscribing:
            return
        del self.carriers[layer_group]
        try:
            await self.layer.group_discard(layer_group, self.channel)
        except Exception:  # the subscription goes with the connection anyway
            logger.exception("Could not unsubscribe from %s", layer_group)

    async def go_away(self) -> None:
        """The process is stopping: every local socket finishes its frame and closes with
        1001 (`apps.chat.shutdown`)."""
        sockets = {socket for mine in self.users.values() for socket in mine}
        await asyncio.gather(*(socket.go_away() for socket in sockets), return_exceptions=True)

    # --- load ------------------------------------------------------------------------------

    async def _measure_lag(self) -> None:
        while True:
            due = self.loop.time() + LAG_TICK
            await asyncio.sleep(LAG_TICK)
            late = max(self.loop.time() - due, 0.0)
            # Up at once; down by halves, so one punctual tick amid a backlog does not
            # readmit the whole queue.
            self.lag = late if late >= self.lag else (self.lag + late) / 2
            LOOP_LAG.set(self.lag)

    def _arrived(self, published_at: float) -> None:
        took = max(time.monotonic() - published_at, 0.0)
        self.delay += (took - self.delay) * 0.2
        self._delay_at = self.loop.time()
        EVENT_DELAY.set(self.delay)

    def behind(self) -> float:
        """Seconds this process runs behind: its loop's lag, or the delay of its own
        events while they come back."""
        recent = self.loop.time() - self._delay_at < DELAY_STALE
        return max(self.lag, self.delay if recent else 0.0)

    def overloaded(self) -> bool:
        """The process runs more than WS_BEHIND_LIMIT behind: new work should wait."""
        limit = settings.WS_BEHIND_LIMIT
        return 0 < limit < self.behind()

    def retry_after(self) -> float:
        """Seconds until a refused client should try again: about as long as the process
        is behind, between 0.1 and 2."""
        return round(min(max(self.behind(), 0.1), 2.0), 2)

    # --- layer failures ------------------------------------------------------------------

    async def _probe(self, channel: str) -> None:
        interval = settings.EVENTS_PROBE_INTERVAL
        while True:
            await asyncio.sleep(interval)
            try:
                await self.layer.send(channel, {"type": "hub.probe"})
            except Exception:
                LAYER_ERRORS.labels("probe").inc()
                self.events_failed()
                continue
            if self.loop.time() - self._probe_back > PROBE_MISSES * interval:
                self.events_failed()

    def events_failed(self) -> None:
        """Events may be lost: every local socket is told once. (A hub no socket started
        serves only HTTP here: nobody to tell.)"""
        if self.delayed or self._started is None:
            return
        self.delayed = True
        logger.warning("Channel layer unreachable: events delayed on %d sockets", self.sockets)
        self._to_all(DELAYED_FRAME)

    def _probe_returned(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        self._probe_back = self.loop.time()
        if self.delayed and self._recovering is None:
            self._recovering = self.loop.create_task(self._recover())

    async def _recover(self) -> None:
        try:
            for layer_group in list(self.carriers):
                await self.layer.group_add(layer_group, self.channel)
        except Exception:
            LAYER_ERRORS.labels("subscribe").inc()
            logger.warning("Channel layer still failing; events stay delayed")
            return
        finally:
            self._recovering = None
        self.delayed = False
        logger.warning("Channel layer back: events resumed")
        self._to_all(RESUMED_FRAME)

    def _to_all(self, frame: str) -> None:
        for sockets in list(self.users.values()):
            for socket in list(sockets):
                socket.push(frame)

    # --- delivery -------------------------------------------------------------------------

    async def _run(self, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            # Anything arriving shows the layer works: a probe that comes back late
            # behind a burst of events is not taken for a failure.
            self._probe_back = self.loop.time()
            if message.get("by") == PROCESS:
                self._arrived(message["at"])
            try:
                self.dispatch(message)
            except Exception:
                logger.exception("Could not dispatch %s", message.get("type"))
            # Let the sockets' writers run between events, so a burst that arrives at
            # once is not mistaken for a client that stopped reading.
            await asyncio.sleep(0)

    def dispatch(self, message: dict[str, Any]) -> None:
        deliver = {
            "hub.frame": self._frame,
            "hub.badges": self._badges,
            "hub.read": self._read,
            "hub.close": self._close,
            "hub.revoke": self._revoke,
            "hub.member": self._member,
            "hub.leave": self._leave,
            "hub.probe": self._probe_returned,
        }.get(message["type"])
        if deliver is None:
            return
        groups = message.get("groups")
        if groups is None:
            deliver(message, self.groups.get(message.get("group", ""), ()))
            return
        for group in groups:  # people's groups on one carrier: no socket is in two
            members = self.groups.get(group)
            if members:
                deliver(message, members)

    def _frame(self, message: dict[str, Any], members: Collection[Socket]) -> None:
        frame, skip = message["frame"], message.get("skip")
        delivered = len(members)  # counted per event, not per socket (apps.core.metrics)
        for socket in members:
            if socket.socket_id != skip:
                socket.push(frame)
            else:
                delivered -= 1
        Tally.events_delivered += delivered

    def _badges(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        room = message.get("room")
        in_room: Collection[Socket] = ()
        if room is not None:  # the message itself, for the room's members here
            in_room = self.groups.get(room, ())
            self._frame(message, in_room)
        schema = _badge_schema(message["group"])
        channel_id, seq = message["channelId"], message["seq"]
        users = self.users
        for user_id, last_read in message["readers"]:
            sockets = users.get((schema, user_id))
            if sockets:
                unread = max(seq - last_read, 0)
                for socket in sockets:
                    if socket not in in_room:  # the room's members just got the message
                        socket.badge(channel_id, unread)

    def _read(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        for socket in members:
            socket.read_up_to(message["channelId"], message["unreadCount"])

    def _close(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        for socket in list(members):
            socket.close_with(message["code"], message["error"], message["message"])

    def _revoke(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        tokens = message["tokenIds"]
        for socket in list(members):
            if tokens is None or socket.token_id in tokens:
                socket.close_with(message["code"], message["error"], message["message"])

    def _member(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        for socket in list(members):
            socket.member_changed(message["role"])

    def _leave(self, message: dict[str, Any], members: Iterable[Socket]) -> None:
        for socket in list(members):
            socket.leave_rooms(message["channels"])


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """This event loop's hub."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(get_channel_layer())
    return found


def local_hub() -> Hub | None:
    """This event loop's hub, if a socket or a request started one."""
    return _hubs.get(asyncio.get_running_loop())


def events_failed() -> None:
    """A publish from this loop failed: its hub (if any) tells its sockets."""
    try:
        found = _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return
    if found is not None:
        found.events_failed()


class PublishFromServingLoop:
    """ASGI wrapper for HTTP: the loop serving requests gets a hub, so events that views
    publish after commit leave from that loop without the request waiting, as they do from
    sockets (the hub itself starts only when a socket registers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        hub()
        return await self.app(scope, receive, send)


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """A running loop of this process that has a hub, for publishers in other threads."""
    for loop in list(_hubs):
        if loop.is_running():
            return loop
    return None
