"""Delivery through each process's hub: badges coalesced per socket and kept per tenant,
slow sockets closed instead of buffering without bound, senders' messages in order, and
rate limits that say when to retry."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django_tenants.utils import schema_context

from apps.accounts.models import Membership, Role
from apps.chat.hub import hub
from apps.chat.models import Message
from apps.chat.ws import Backlog
from tests.chat.conftest import create_channel, support_ticket
from tests.chat.test_websocket import (
    _drain,
    _keep_test_connection,  # noqa: F401  (autouse: the sockets share the test transaction)
    closed_with,
    commit,
    connect,
    expect,
    receive,
    run,
    send,
)


async def joined(tenant: Any, users: list[Any], cid: str) -> list[Any]:
    """A socket for each user, each joined to the channel."""
    sockets = [await connect(tenant, user) for user in users]
    for socket in sockets:
        await send(socket, "join_channel", channelId=cid)
        await expect(socket, "joined")
    return sockets


async def settled(socket: Any) -> Any:
    """The socket once its connect has finished (its groups joined): the server handles
    this frame only after that."""
    await send(socket, "join_channel", channelId="not-a-uuid", ref="settled")
    assert (await expect(socket, "error"))["ref"] == "settled"
    return socket


def _post(client: Any, cid: str, content: str) -> Any:
    return client.post(f"/api/chat/channels/{cid}/messages", {"content": content}, format="json")


def test_badges_are_coalesced_to_the_latest_count(org, client_for, monkeypatch):
    from apps.chat import consumers

    monkeypatch.setattr(consumers, "BADGE_INTERVAL", 2.5)  # room for a slow machine
    player = client_for(org.tenant, org.player)
    cid = support_ticket(player)["id"]
    _drain()

    async def scenario() -> None:
        admin = await settled(await connect(org.tenant, org.admin))  # joins nothing
        for n in range(5):
            await database_sync_to_async(_post)(player, cid, f"m{n}")
            await commit()
        # The first arrives at once; the next four within the interval, as one frame.
        assert await expect(admin, "unread_changed") == {"channelId": cid, "unreadCount": 1}
        later = json.loads(await admin.receive_from(timeout=5))
        assert later == {"event": "unread_changed", "data": {"channelId": cid, "unreadCount": 5}}
        assert await admin.receive_nothing(timeout=1.2)
        await admin.disconnect()

    run(scenario)


def test_badges_stay_on_the_tenant_they_belong_to(org, other_org, client_for):
    """The same person, a member of two tenants, with a socket on each host: acme's
    message moves the badge on acme's socket only."""
    Membership.objects.create(user=org.player, tenant=other_org.tenant, role=Role.PARTICIPANT)
    admin = client_for(org.tenant, org.admin)
    tour = create_channel(admin, type="TOURNAMENT", contextId="c", participantIds=[org.player.id])
    _drain()

    async def scenario() -> None:
        on_acme = await connect(org.tenant, org.player)
        on_globex = await connect(other_org.tenant, org.player)
        await database_sync_to_async(_post)(admin, tour["id"], "acme only")
        await commit()
        badge = await expect(on_acme, "unread_changed")
        assert badge == {"channelId": tour["id"], "unreadCount": 1}
        assert await on_globex.receive_nothing(timeout=0.5)
        await on_acme.disconnect()
        await on_globex.disconnect()

    run(scenario)


def test_a_socket_that_does_not_read_is_closed_and_others_go_on(org, client_for, settings):
    settings.WS_SEND_QUEUE = 5
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        player, admin = await joined(org.tenant, [org.player, org.admin], cid)
        # The admin's client stops reading: its frames pile up on the server.
        [slow] = hub().users[("acme", org.admin.id)]
        stuck = asyncio.Event()
        send_to_server = slow.base_send

        async def stops_at_frames(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                await stuck.wait()
            await send_to_server(message)

        slow.base_send = stops_at_frames
        for n in range(10):
            await send(player, "send_message", channelId=cid, content=f"m{n}")
        for _ in range(10):
            await expect(player, "message_sent")
        await commit()
        assert await closed_with(admin) == 4408
        seqs = [(await expect(player, "new_message"))["seq"] for _ in range(10)]
        assert seqs == list(range(1, 11))  # in order, and the fast socket missed nothing
        await player.disconnect()

    run(scenario)


def test_rate_limited_frames_say_when_to_retry(org, client_for, settings):
    settings.WS_RATE_FRAMES = 3
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        for _ in range(3):
            await send(socket, "leave_channel", channelId=cid)
            await expect(socket, "left")
        await send(socket, "leave_channel", channelId=cid, ref="r")
        error = await expect(socket, "error")
        assert error["code"] == "rate_limited" and error["ref"] == "r"
        assert 0 < error["retryAfter"] <= 5
        await socket.disconnect()

    run(scenario)


def test_the_hub_subscribes_once_per_group_and_lets_go(org, client_for):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        sockets = await joined(org.tenant, [org.player] * 3, cid)
        local = hub()
        room = next(group for group in local.groups if ".ch." in group)
        assert len(local.groups[room]) == 3
        await send(sockets[0], "leave_channel", channelId=cid)
        await expect(sockets[0], "left")
        assert len(local.groups[room]) == 2
        for socket in sockets:
            await socket.disconnect()
        assert room not in local.groups and local.sockets == 0

    run(scenario)


def test_peoples_groups_ride_on_one_subscription_per_host(org, other_org, monkeypatch):
    """Connecting people subscribes the process to their host's people and to all
    accounts once, not to two groups per person; an event for some of them is one layer
    message per host and reaches exactly their sockets, on that host only; the last
    socket's close ends the subscriptions."""
    from channels.layers import get_channel_layer

    from apps.chat import events

    layer = get_channel_layer()
    added: list[str] = []
    discarded: list[str] = []
    sent: list[str] = []
    real_add, real_discard, real_send = layer.group_add, layer.group_discard, layer.group_send

    async def group_add(group: str, channel: str) -> None:
        added.append(group)
        await real_add(group, channel)

    async def group_discard(group: str, channel: str) -> None:
        discarded.append(group)
        await real_discard(group, channel)

    async def group_send(group: str, message: dict[str, Any]) -> None:
        sent.append(group)
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_add", group_add)
    monkeypatch.setattr(layer, "group_discard", group_discard)
    monkeypatch.setattr(layer, "group_send", group_send)

    def publish_to(*people: tuple[str, Any]) -> None:
        groups = [events.user_group(schema, user.pk) for schema, user in people]
        events.publish("hello", {"to": len(people)}, groups=groups)

    # Acme's player is a member of Globex too: the same person on two hosts.
    Membership.objects.create(user=org.player, tenant=other_org.tenant, role=Role.PARTICIPANT)

    async def scenario() -> None:
        acme = [
            await settled(await connect(org.tenant, u))
            for u in (org.player, org.player2, org.admin)
        ]
        globex = await settled(await connect(other_org.tenant, other_org.player))
        player_on_globex = await settled(await connect(other_org.tenant, org.player))
        assert sorted(added) == sorted(
            ["t.acme.users", "users", "t.acme.all", "t.acme.badges"]
            + ["t.globex.users", "t.globex.all", "t.globex.badges"]
        )
        assert not any(".u." in group or group.startswith("user.") for group in added)

        await database_sync_to_async(publish_to)(("acme", org.player), ("acme", org.player2))
        await commit()
        assert sent == ["t.acme.users"]  # two people, one publish
        assert (await expect(acme[0], "hello")) == {"to": 2}
        assert (await expect(acme[1], "hello")) == {"to": 2}
        for socket in (acme[2], globex, player_on_globex):
            assert await socket.receive_nothing(timeout=0.2)

        # The same person on the other host: only that host's socket.
        await database_sync_to_async(publish_to)(("globex", org.player))
        await commit()
        assert (await expect(player_on_globex, "hello")) == {"to": 1}
        for socket in (*acme, globex):
            assert await socket.receive_nothing(timeout=0.2)

        for socket in (*acme, globex, player_on_globex):
            await socket.disconnect()
        local = hub()
        assert not local.groups and not local.carriers
        assert sorted(discarded) == sorted(added)

    run(scenario)


def test_frames_in_flight_are_not_lost_when_many_arrive_at_once(org, client_for):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        player, admin = await joined(org.tenant, [org.player, org.admin], cid)
        for n in range(25):
            await send(player, "send_message", channelId=cid, content=f"m{n}")
        for _ in range(25):
            await expect(player, "message_sent")
        await commit()
        frames = [await receive(admin) for _ in range(25)]
        assert [f["data"]["seq"] for f in frames] == list(range(1, 26))
        await player.disconnect()
        await admin.disconnect()

    run(scenario)


def test_a_busy_server_refuses_frames_at_once_and_stores_nothing(org, client_for, settings):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        settings.WS_DB_BACKLOG = 0  # every database call would have to wait
        await send(socket, "send_message", channelId=cid, content="later", ref=7)
        error = await expect(socket, "error")
        retry_after = error.pop("retryAfter")
        assert error == {
            "code": "server_busy",
            "message": "The server is busy; retry shortly.",
            "ref": 7,
        }
        assert 0.1 <= retry_after <= 2  # when the calls waiting now will be done
        settings.WS_DB_BACKLOG = 200
        await send(socket, "send_message", channelId=cid, content="now")
        assert (await expect(socket, "message_sent"))["content"] == "now"
        await socket.disconnect()

    run(scenario)
    with schema_context("acme"):
        assert list(Message.objects.filter(channel_id=cid).values_list("content", flat=True)) == [
            "now"
        ]


def test_a_busy_backlog_still_admits_joins_but_not_sends(org, client_for, settings):
    """A reconnect storm fills the backlog with the connects' own database calls: joins
    wait their turn instead of being refused (and coming back to be done twice), while
    sends past the backlog are still refused."""
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        settings.WS_DB_BACKLOG = 0
        await send(socket, "join_channel", channelId=cid)
        assert (await expect(socket, "joined"))["channelId"] == cid
        await refused_as_busy(socket, cid)
        await send(socket, "join_channel", channelId=str(uuid.uuid4()), ref="j")
        assert (await expect(socket, "error"))["code"] == "not_found"  # decided, not refused
        settings.WS_DB_BACKLOG = 200
        # A process running behind refuses joins too.
        settings.WS_BEHIND_LIMIT = 0.1
        running = hub()
        running.behind = lambda: 1.5  # type: ignore[method-assign]
        try:
            await send(socket, "join_channel", channelId=cid, ref="late")
            error = await expect(socket, "error")
            assert (error["code"], error["ref"], error["retryAfter"]) == (
                "server_busy",
                "late",
                1.5,
            )
        finally:
            del running.behind
        await socket.disconnect()

    run(scenario)
    assert stored(cid) == []


async def sent(socket: Any, cid: str, content: str) -> None:
    await send(socket, "send_message", channelId=cid, content=content)
    assert (await expect(socket, "message_sent"))["content"] == content


async def refused_as_busy(socket: Any, cid: str) -> float:
    """A send refused with `server_busy`; its `retryAfter`."""
    await send(socket, "send_message", channelId=cid, content="refused", ref="r")
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("server_busy", "r")
    return float(error["retryAfter"])


def stored(cid: str) -> list[str]:
    with schema_context("acme"):
        messages = Message.objects.filter(channel_id=cid).order_by("seq")
        return list(messages.values_list("content", flat=True))


def test_a_loop_running_late_refuses_frames_until_it_catches_up(org, client_for, settings):
    """A process whose event loop runs behind (here: blocked for a second) is saturated:
    frames needing the database get `server_busy` with a retry time while it is behind,
    nothing of theirs is stored, and frames are admitted again once it has caught up."""
    import time

    settings.WS_BEHIND_LIMIT = 0.1
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await settled(await connect(org.tenant, org.player))
        await sent(socket, cid, "before")
        time.sleep(1.0)  # the loop runs nothing for a second
        await asyncio.sleep(0.1)  # its lag timer notices
        assert 0.1 <= await refused_as_busy(socket, cid) <= 2
        await asyncio.sleep(1.0)  # caught up
        await sent(socket, cid, "after")
        await socket.disconnect()

    run(scenario)
    assert stored(cid) == ["before", "after"]


def test_events_arriving_late_refuse_frames_until_they_arrive_on_time(org, client_for, settings):
    """Events of its own that come back to a process long after it published them (its
    layer connection queues them while it is busy) mean it is behind: frames needing the
    database get `server_busy` until its events come back on time again. Another
    process's publishing time says nothing (its host's clock may differ)."""
    import time

    from channels.layers import get_channel_layer

    from apps.chat import events
    from apps.chat.hub import PROCESS

    settings.WS_BEHIND_LIMIT = 0.1
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await settled(await connect(org.tenant, org.player))
        group = events.tenant_group("acme")
        late = {"type": "hub.frame", "group": group, "at": time.monotonic() - 5.0}
        elsewhere = {**late, "by": "another process", "frame": events.encode("notice", {})}
        await get_channel_layer().group_send(group, elsewhere)
        assert await expect(socket, "notice") == {}
        await sent(socket, cid, "meanwhile")
        frame = events.encode("notice", {"n": 1})
        await get_channel_layer().group_send(group, {**late, "by": PROCESS, "frame": frame})
        assert await expect(socket, "notice") == {"n": 1}
        # A fifth of 5 s: one event in the moving average.
        assert 0.9 <= await refused_as_busy(socket, cid) <= 1.5
        on_time = {**late, "by": PROCESS, "at": time.monotonic()}
        on_time["frame"] = events.encode("notice", {"n": 2})
        for _ in range(30):  # the moving average comes down below the limit
            await get_channel_layer().group_send(group, on_time)
            assert await expect(socket, "notice") == {"n": 2}
        await sent(socket, cid, "after")
        await socket.disconnect()

    run(scenario)
    assert stored(cid) == ["meanwhile", "after"]


def test_a_read_replaces_a_waiting_badge_update(org, client_for, monkeypatch):
    """Unread 1 shows at once, unread 2 waits for the coalescing interval; the user then
    reads everything elsewhere: this socket shows 0, and the waiting 2 never comes."""
    from apps.chat import consumers

    monkeypatch.setattr(consumers, "BADGE_INTERVAL", 3.0)  # room for a slow machine
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    _drain()

    async def scenario() -> None:
        socket = await settled(await connect(org.tenant, org.admin))  # joins nothing
        for n in range(2):
            await database_sync_to_async(_post)(player, cid, f"m{n}")
            await commit()
        assert await expect(socket, "unread_changed") == {"channelId": cid, "unreadCount": 1}
        latest = await database_sync_to_async(
            lambda: admin.get(f"/api/chat/channels/{cid}/messages").json()["messages"][0]
        )()
        await database_sync_to_async(admin.post)(
            f"/api/chat/channels/{cid}/read", {"messageId": latest["id"]}, format="json"
        )
        await commit()
        assert await expect(socket, "unread_changed") == {"channelId": cid, "unreadCount": 0}
        assert await socket.receive_nothing(timeout=3.3)
        await socket.disconnect()

    run(scenario)


def test_a_socket_whose_handler_fails_is_answered_and_leaves_the_hub_on_close(
    org, client_for, monkeypatch
):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    def broken(**_: Any) -> None:
        raise RuntimeError("database went away")

    async def scenario() -> None:
        [socket] = await joined(org.tenant, [org.player], cid)
        local = hub()
        monkeypatch.setattr("apps.chat.services.message_send", broken)
        await send(socket, "send_message", channelId=cid, content="x")
        assert (await expect(socket, "error"))["code"] == "internal_error"
        assert local.sockets == 1  # answered, and still open
        await socket.disconnect()
        await asyncio.sleep(0.05)
        assert local.sockets == 0 and not local.groups and not local.users

    run(scenario)


def test_a_tournament_message_travels_with_its_badges_and_arrives_once(org, client_for):
    """Team and tournament channels show on their tenant's host only: their messages
    reach the room inside the host's badge message. A joined socket gets the message once
    and no badge for it; a participant who has not joined gets the badge."""
    admin = client_for(org.tenant, org.admin)
    tour = create_channel(
        admin, type="TOURNAMENT", contextId="c", participantIds=[org.player.id, org.team.id]
    )
    _drain()

    async def scenario() -> None:
        [player] = await joined(org.tenant, [org.player], tour["id"])
        elsewhere = await settled(await connect(org.tenant, org.team))  # joins nothing
        for n in range(3):
            await database_sync_to_async(_post)(admin, tour["id"], f"m{n}")
            await commit()
        contents = [(await expect(player, "new_message"))["content"] for _ in range(3)]
        assert contents == ["m0", "m1", "m2"]
        assert await player.receive_nothing(timeout=1.2)  # no copy, no badge
        badge = await expect(elsewhere, "unread_changed")
        assert badge == {"channelId": tour["id"], "unreadCount": 1}
        await player.disconnect()
        await elsewhere.disconnect()

    run(scenario)


def test_a_refused_frame_is_told_when_the_backlog_will_have_drained(settings):
    settings.WS_DB_THREADS = 4
    waiting, seconds = Backlog.waiting, Backlog.seconds_per_call
    Backlog.waiting, Backlog.seconds_per_call = 400, 0.002
    try:
        assert Backlog.retry_after() == 0.2  # 400 calls of 2 ms on 4 threads
        Backlog.waiting = 10
        assert Backlog.retry_after() == 0.1  # never sooner than 0.1 s
        Backlog.waiting = 100_000
        assert Backlog.retry_after() == 2  # nor later than 2 s
    finally:
        Backlog.waiting, Backlog.seconds_per_call = waiting, seconds
