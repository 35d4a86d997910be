"""Open sockets obey the changes that end or narrow a person's rights, as soon as they
commit: removal, suspension, deactivation, logout, token expiry, and losing a channel.

Each scenario commits the change, then makes an event the socket would have received
before it, and checks what the socket gets in between: the `error` frame and the close
(nothing else), or `channel_left` and then nothing from that channel.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts import memberships
from apps.accounts.models import ApiToken, Role
from apps.accounts.services import token_issue, user_deactivate
from apps.chat.models import Message, Participant
from config.asgi import application
from tests.chat.conftest import create_channel, support_ticket
from tests.chat.test_websocket import (
    _drain,
    _keep_test_connection,  # noqa: F401  (autouse: the sockets share the test transaction)
    closed_with,
    commit,
    connect,
    expect,
    run,
    send,
)
from tests.conftest import host_of


async def connect_with(tenant: Any, user: Any, *, ttl: float | None = None) -> tuple[Any, str]:
    """A socket and the raw token it was opened with (living `ttl` seconds if given)."""
    raw, token = await database_sync_to_async(token_issue)(user=user)
    if ttl is not None:
        token.expires_at = timezone.now() + timedelta(seconds=ttl)
        await database_sync_to_async(token.save)(update_fields=["expires_at"])
    socket = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[
            (b"host", host_of(tenant).encode()),
            (b"authorization", f"Bearer {raw}".encode()),
        ],
    )
    connected, _ = await socket.connect()
    assert connected
    return socket, raw


async def join(socket: Any, cid: str) -> None:
    await send(socket, "join_channel", channelId=cid)
    await expect(socket, "joined")


async def post(client: Any, cid: str, content: str) -> None:
    response = await database_sync_to_async(client.post)(
        f"/api/chat/channels/{cid}/messages", {"content": content}, format="json"
    )
    assert response.status_code == 201, response.json()
    await commit()


async def refused_then_closed(socket: Any, error: str, code: int) -> None:
    """The next frames are exactly the error and the close: no event slipped in."""
    assert (await expect(socket, "error"))["code"] == error
    assert await closed_with(socket) == code


def _ticket_with_admin(org: Any, client_for: Any) -> tuple[str, Any]:
    player = client_for(org.tenant, org.player)
    cid = support_ticket(player)["id"]
    _drain()
    return cid, client_for(org.tenant, org.admin)


def test_removal_closes_the_members_sockets_before_the_next_message(org, client_for):
    cid, admin = _ticket_with_admin(org, client_for)

    async def scenario() -> None:
        player, _ = await connect_with(org.tenant, org.player)
        watcher = await connect(org.tenant, org.admin)
        for socket in (player, watcher):
            await join(socket, cid)
        response = await database_sync_to_async(admin.delete)(f"/api/members/{org.player.id}")
        assert response.status_code == 204
        await commit()
        await post(admin, cid, "after the removal")
        await refused_then_closed(player, "membership_revoked", 4403)
        # Everyone else goes on as before.
        assert (await expect(watcher, "new_message"))["content"] == "after the removal"
        await watcher.disconnect()

    run(scenario)


def test_suspension_closes_the_members_sockets_and_refuses_new_ones(org, client_for):
    cid, admin = _ticket_with_admin(org, client_for)

    async def scenario() -> None:
        player, raw = await connect_with(org.tenant, org.player)
        await join(player, cid)
        response = await database_sync_to_async(admin.put)(f"/api/members/{org.player.id}/suspend")
        assert response.status_code == 200
        await commit()
        await post(admin, cid, "after the suspension")
        await refused_then_closed(player, "membership_revoked", 4403)
        again = await connect(org.tenant, org.player)
        assert await closed_with(again) == 4403

    run(scenario)


def test_deactivation_closes_every_socket_on_every_host(
    org, super_admin, public_tenant, client_for
):
    """A super admin's sockets on the console and on a tenant's host, opened with two
    tokens, all close (4401) when the account is deactivated."""
    cid, admin = _ticket_with_admin(org, client_for)
    admin.put(f"/api/chat/channels/{cid}/escalate", {"reason": "help"}, format="json")
    _drain()

    async def scenario() -> None:
        console, _ = await connect_with(public_tenant, super_admin)
        on_tenant, _ = await connect_with(org.tenant, super_admin)
        await join(on_tenant, cid)
        await database_sync_to_async(user_deactivate)(user=super_admin)
        await commit()
        await post(admin, cid, "after the deactivation")
        for socket in (console, on_tenant):
            await refused_then_closed(socket, "credentials_revoked", 4401)

    run(scenario)


def test_logout_closes_the_sockets_of_that_token_only(org, client_for):
    cid, admin = _ticket_with_admin(org, client_for)

    async def scenario() -> None:
        ended, raw = await connect_with(org.tenant, org.player)
        other_tab, _ = await connect_with(org.tenant, org.player)
        for socket in (ended, other_tab):
            await join(socket, cid)
        same_token = WebsocketCommunicator(
            application,
            f"/ws/chat/?token={raw}",
            headers=[(b"host", host_of(org.tenant).encode())],
        )
        assert (await same_token.connect())[0]
        await join(same_token, cid)

        logout = client_for(org.tenant)
        logout.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert (await database_sync_to_async(logout.post)("/api/auth/logout")).status_code == 204
        await commit()
        await post(admin, cid, "after the logout")
        for socket in (ended, same_token):
            await refused_then_closed(socket, "credentials_revoked", 4401)
        assert (await expect(other_tab, "new_message"))["content"] == "after the logout"
        await other_tab.disconnect()

    run(scenario)


def test_a_socket_closes_when_its_token_expires(org, client_for):
    cid, admin = _ticket_with_admin(org, client_for)

    async def scenario() -> None:
        player, _ = await connect_with(org.tenant, org.player, ttl=0.5)
        await join(player, cid)
        await asyncio.sleep(0.7)
        await post(admin, cid, "after the expiry")
        await refused_then_closed(player, "token_expired", 4401)

    run(scenario)


def test_a_token_revoked_while_connecting_is_caught_after_joining(org, monkeypatch):
    """The handshake accepted the token just before its revocation committed; the socket
    missed the command, so it looks once more after joining its groups."""
    from apps.chat import ws

    real = ws._authenticate

    def then_revoked(scope: dict[str, Any]) -> Any:
        found = real(scope)
        ApiToken.objects.filter(pk=scope["token_id"]).delete()
        return found

    monkeypatch.setattr(ws, "_authenticate", then_revoked)

    async def scenario() -> None:
        socket, _ = await connect_with(org.tenant, org.player)
        await refused_then_closed(socket, "credentials_revoked", 4401)

    run(scenario)


def test_losing_a_channel_leaves_its_room_at_once(org, client_for):
    """A management-team member demoted to participant is no longer in the team's
    channel: their socket leaves the room, gets none of its messages, typing or badges,
    and `sync` and `send_message` there fail as for any channel they may not see. Their
    other channels carry on."""
    admin = client_for(org.tenant, org.admin)
    team_cid = create_channel(admin, type="TEAM", participantIds=[org.team.id])["id"]
    own_cid = support_ticket(client_for(org.tenant, org.team))["id"]
    _drain()

    async def scenario() -> None:
        team, _ = await connect_with(org.tenant, org.team)
        admin_socket = await connect(org.tenant, org.admin)
        for cid in (team_cid, own_cid):
            await join(team, cid)
        await join(admin_socket, team_cid)
        response = await database_sync_to_async(admin.patch)(
            f"/api/members/{org.team.id}", {"role": "PARTICIPANT"}, format="json"
        )
        assert response.status_code == 200
        await commit()
        assert await expect(team, "channel_left") == {"channelId": team_cid}

        await send(admin_socket, "typing", channelId=team_cid)
        await post(admin, team_cid, "staff only")
        await post(admin, own_cid, "your request")
        # The only frame: the message of the channel they still take part in.
        assert (await expect(team, "new_message"))["content"] == "your request"
        assert await team.receive_nothing(timeout=0.3)
        await send(team, "sync", channelId=team_cid, afterId=0)
        assert (await expect(team, "error"))["code"] == "not_found"
        await send(team, "send_message", channelId=team_cid, content="still here?")
        assert (await expect(team, "error"))["code"] == "not_found"
        await send(team, "typing", channelId=team_cid)
        assert (await expect(team, "error"))["code"] == "not_joined"
        await team.disconnect()
        await admin_socket.disconnect()

    run(scenario)
    with schema_context("acme"):
        assert not Message.objects.filter(channel_id=team_cid, content="still here?").exists()
        assert not Participant.objects.filter(channel_id=team_cid, user=org.team).exists()


def test_a_role_changed_elsewhere_still_narrows_the_sockets(org, client_for):
    """A role change made without the members API (as a sign-in from the tournament
    platform could) still brings the person's channels and sockets in line."""
    admin = client_for(org.tenant, org.admin)
    team_cid = create_channel(admin, type="TEAM", participantIds=[org.team.id])["id"]
    _drain()

    async def scenario() -> None:
        team, _ = await connect_with(org.tenant, org.team)
        await join(team, team_cid)
        await database_sync_to_async(memberships.membership_role_change)(
            tenant=org.tenant, user_id=org.team.id, role=Role.PARTICIPANT
        )
        await commit()
        assert await expect(team, "channel_left") == {"channelId": team_cid}
        await post(admin, team_cid, "staff only")
        assert await team.receive_nothing(timeout=0.3)
        await team.disconnect()

    run(scenario)


def test_a_promoted_member_hears_of_the_channels_they_joined(org, client_for):
    player = client_for(org.tenant, org.player)
    cid = support_ticket(player)["id"]
    admin = client_for(org.tenant, org.admin)
    _drain()

    async def scenario() -> None:
        promoted, _ = await connect_with(org.tenant, org.player2)
        await send(promoted, "join_channel", channelId=cid)
        assert (await expect(promoted, "error"))["code"] == "not_found"
        response = await database_sync_to_async(admin.patch)(
            f"/api/members/{org.player2.id}", {"role": "TENANT_ADMIN"}, format="json"
        )
        assert response.status_code == 200
        await commit()
        assert (await expect(promoted, "channel_joined"))["id"] == cid
        await join(promoted, cid)
        await post(player, cid, "hello admins")
        assert (await expect(promoted, "new_message"))["content"] == "hello admins"
        # The open socket acts in the new role.
        await send(promoted, "send_message", channelId=cid, content="on it")
        assert (await expect(promoted, "message_sent"))["senderType"] == "TENANT_ADMIN"
        await promoted.disconnect()

    run(scenario)


def test_a_super_admin_who_loses_a_membership_stays_connected_in_no_role(
    org, super_admin, client_for
):
    from apps.accounts.services import membership_set

    membership_set(user=super_admin, tenant=org.tenant, role=Role.TENANT_ADMIN)
    cid, admin = _ticket_with_admin(org, client_for)

    async def scenario() -> None:
        socket, _ = await connect_with(org.tenant, super_admin)
        await join(socket, cid)
        response = await database_sync_to_async(admin.delete)(f"/api/members/{super_admin.id}")
        assert response.status_code == 204
        await commit()
        # Out of the ticket they were in as a tenant admin, but not disconnected.
        assert await expect(socket, "channel_left") == {"channelId": cid}
        await send(socket, "join_channel", channelId=cid)
        assert (await expect(socket, "error"))["code"] == "not_found"
        await socket.disconnect()

    run(scenario)
