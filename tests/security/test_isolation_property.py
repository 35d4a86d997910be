"""Tenant isolation as a property: Hypothesis draws sequences of REST and WebSocket
actions by every kind of actor (tenant admin, management team, participant, super admin)
in three tenants and on the console host, and after every step checks:

- no response body or frame holds the id, subject or content of a channel of another
  tenant, or of a channel the actor may not see (every subject, message and reason
  carries its channel's unique marker, so a leak shows as a substring);
- no body or frame holds an internal note (marked apart) for anyone but the people who
  answer its ticket: the tenant's staff and super admins on a SUPPORT ticket, super
  admins on a platform ticket;
- every stored message sits in the schema of its channel's tenant (the public schema
  for platform tickets);
- at the end of each sequence, `GET /api/chat/unread` and each channel's `unreadCount`
  equal a recount of the stored messages (notes aside) after each read mark, and every
  member reads each channel they see in full.

Who may see a channel is modelled here from the stored facts (participant rows, the
escalation index), independently of `apps.chat.locate`: a tenant's host shows its own
channels, and its platform tickets, to their participants, and the ones ever escalated to
super admins; the console shows super admins every platform ticket and every escalated
channel.

Each sequence runs in a savepoint rolled back afterwards, inside one `async_to_sync`
scenario so that the consumers' database work shares the test's transaction (as in
tests/chat/test_websocket.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection, transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.accounts.models import STAFF_ROLES, Membership, MembershipStatus, Role
from apps.accounts.services import membership_set, token_issue
from apps.chat.models import ChannelType, Message, MessageKind, Participant
from apps.records.models import Escalation
from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_provision
from config.asgi import application
from tests.chat.test_websocket import commit
from tests.conftest import _org, host_of

EXAMPLES = 20
MAX_STEPS = 14
CONSOLE = "localhost"
MARKER = re.compile(r"mk[a-z]+\d+x")
NOTE_MARKER = re.compile(r"nk[a-z]+\d+x")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

examples_run = 0


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


# --- the world ------------------------------------------------------------------------


@dataclass
class Actor:
    user: Any
    tenant: Tenant | None  # None: a super admin, who acts on every host
    token: str


@dataclass
class Known:
    """A channel the sequence created, and what marks its texts."""

    id: str
    marker: str
    slug: str  # its tenant
    schema: str  # where it must be stored
    type: str


@dataclass
class World:
    tenants: list[Tenant]
    actors: list[Actor]
    channels: list[Known] = field(default_factory=list)
    sockets: dict[tuple[int, str], WebsocketCommunicator] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    observed: int = 0  # bodies and frames checked
    frames: int = 0  # of which frames
    visible: dict[tuple[int, str], set[str]] = field(default_factory=dict)  # per step
    notes: dict[str, Known] = field(default_factory=dict)  # note marker -> its channel


def _world(make_user: Any) -> World:
    initech = Tenant.objects.filter(schema_name="initech").first()
    if initech is None:
        initech = tenant_provision(slug="initech", name="Initech").tenant
    tenants = [Tenant.objects.get(schema_name=s) for s in ("acme", "globex")] + [initech]
    actors = []
    for tenant in tenants:
        org = _org(tenant, make_user)
        for user in (org.admin, org.team, org.player, org.player2):
            actors.append(Actor(user, tenant, token_issue(user=user)[0]))
    root = make_user(super_admin=True, name="Platform super")
    actors.append(Actor(root, None, token_issue(user=root)[0]))
    connection.set_schema_to_public()
    return World(tenants=tenants, actors=actors)


def _hosts(world: World, actor: Actor) -> list[str]:
    """The hosts an actor acts on: a member mostly on their own, sometimes on another
    tenant's or the console (REST only there, refused: the bodies are checked all the
    same); a super admin on every host."""
    everywhere = [host_of(t) for t in world.tenants] + [CONSOLE]
    if actor.tenant is None:
        return everywhere
    own = host_of(actor.tenant)
    return [own, own, own, *(h for h in everywhere if h != own)]


def _slug(host: str) -> str | None:
    return None if host == CONSOLE else host.split(".", 1)[0]


# --- who may see what (from the stored facts) -------------------------------------------


def _participants(known: Known) -> set[int]:
    with schema_context(known.schema):
        return set(
            Participant.objects.filter(channel_id=known.id).values_list("user_id", flat=True)
        )


def _escalated() -> set[str]:
    return {str(c) for c in Escalation.objects.values_list("channel_id", flat=True)}


def allowed(world: World, actor: Actor, host: str) -> set[str]:
    """Markers and ids of the channels `actor` may see on `host` (read once a step)."""
    key = (id(actor), host)
    if key not in world.visible:
        world.visible[key] = _allowed(world, actor, host)
    return world.visible[key]


def _allowed(world: World, actor: Actor, host: str) -> set[str]:
    escalated = _escalated()
    slug = _slug(host)
    superuser = actor.tenant is None
    seen = set()
    for known in world.channels:
        if superuser and (known.type == ChannelType.PLATFORM_SUPPORT or known.id in escalated):
            visible = True  # the console shows them all; `ticket_escalated` reaches any socket
        elif slug is None:
            visible = False
        else:
            visible = known.slug == slug and (
                actor.user.pk in _participants(known) or (superuser and known.id in escalated)
            )
        if visible:
            seen |= {known.marker, known.id}
    staff = superuser or _staff_role(actor)
    for note, known in world.notes.items():
        answers = superuser if known.type == ChannelType.PLATFORM_SUPPORT else staff
        if known.marker in seen and answers:
            seen.add(note)
    return seen


def _staff_role(actor: Actor) -> bool:
    """Whether the member answers their tenant's SUPPORT tickets now (their role may have
    changed during the sequence)."""
    role = (
        Membership.objects.filter(
            user=actor.user, tenant=actor.tenant, status=MembershipStatus.ACTIVE
        )
        .values_list("role", flat=True)
        .first()
    )
    return role in STAFF_ROLES


def check_text(world: World, actor: Actor, host: str, text: str, also: str = "") -> None:
    world.observed += 1
    permitted = allowed(world, actor, host) | {also}
    ours = {k.id for k in world.channels}
    leaked = {m for m in MARKER.findall(text) if m not in permitted}
    leaked |= {n for n in NOTE_MARKER.findall(text) if n not in permitted}
    leaked |= {u for u in UUID_TEXT.findall(text) if u in ours and u not in permitted}
    assert not leaked, f"{actor.user.email} on {host} saw {leaked}: {text[:500]}"


def check_storage(world: World) -> None:
    """Every message carrying a channel's marker is stored in that channel's schema, and
    in no other."""
    schemas = ["public"] + [t.schema_name for t in world.tenants]
    for schema in schemas:
        with schema_context(schema):
            texts = list(
                Message.objects.filter(content__contains="mk").values_list("content", flat=True)
            )
        for text in texts:
            for marker in MARKER.findall(text):
                known = next(k for k in world.channels if k.marker == marker)
                assert known.schema == schema, f"{marker} stored in {schema}, not {known.schema}"


def _recount(known: Known, user_id: int) -> int:
    with schema_context(known.schema):
        read = Participant.objects.filter(channel_id=known.id, user_id=user_id).first()
        if read is None:
            return 0
        later = Message.objects.filter(channel_id=known.id, seq__gt=read.last_read_seq)
        return later.exclude(kind=MessageKind.NOTE).count()


# --- actions ----------------------------------------------------------------------------


class Step:
    def __init__(self, world: World, kind: str, who: int, host: int, target: int, extra: int):
        self.world = world
        self.kind = kind
        self.actor = world.actors[who % len(world.actors)]
        hosts = _hosts(world, self.actor)
        self.host = hosts[host % len(hosts)]
        self.target = target
        self.extra = extra

    @property
    def channel(self) -> Known | None:
        """Mostly one of the host's tenant's channels; sometimes any (another tenant's)."""
        slug = _slug(self.host)
        own = [k for k in self.world.channels if k.slug == slug]
        pool = own if own and self.target < 6 else self.world.channels
        return pool[self.target % len(pool)] if pool else None

    def marker_for(self, slug: str) -> str:
        return f"mk{slug}{next(self.world.counter)}x"

    def rest(self, method: str, path: str, body: Any = None, creating: str = "") -> tuple[int, Any]:
        client = APIClient(HTTP_HOST=self.host)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.actor.token}")
        response = getattr(client, method)(path, body, format="json")
        text = response.content.decode()
        check_text(self.world, self.actor, self.host, text, also=creating)
        connection.set_schema_to_public()
        return response.status_code, (json.loads(text) if text else None)


def do_create(step: Step) -> None:
    slug = _slug(step.host)
    if slug is None:
        return
    types = [
        ChannelType.SUPPORT,
        ChannelType.TEAM,
        ChannelType.TOURNAMENT,
        ChannelType.PLATFORM_SUPPORT,
    ]
    kind = types[step.extra % len(types)]
    marker = step.marker_for(slug)
    peers = [
        a.user.pk
        for a in step.world.actors
        if a.tenant is not None and a.tenant.schema_name == slug
    ]
    body: dict[str, Any] = {
        "type": kind,
        "subject": f"subject {marker}",
        "participantIds": peers[step.target % 4 :][:2],
    }
    if kind == ChannelType.TOURNAMENT:
        body["contextId"] = marker
    status, data = step.rest("post", "/api/chat/channels", body, creating=marker)
    if status == 201:
        schema = "public" if kind == ChannelType.PLATFORM_SUPPORT else slug
        step.world.channels.append(Known(data["id"], marker, slug, schema, kind))


def do_send(step: Step) -> None:
    if (known := step.channel) is not None:
        step.rest(
            "post", f"/api/chat/channels/{known.id}/messages", {"content": f"hello {known.marker}"}
        )


def do_note(step: Step) -> None:
    """An internal note (refused unless the actor answers the ticket)."""
    if (known := step.channel) is not None:
        note = f"nk{known.slug}{next(step.world.counter)}x"
        step.world.notes[note] = known
        step.world.visible.clear()
        body = {"content": f"note {note} on {known.marker}", "kind": "NOTE"}
        step.rest("post", f"/api/chat/channels/{known.id}/messages", body)


def do_read_all(step: Step) -> None:
    step.rest("get", "/api/chat/channels?limit=200")
    step.rest("get", "/api/chat/unread")
    if (known := step.channel) is not None:
        step.rest("get", f"/api/chat/channels/{known.id}")
        step.rest("get", f"/api/chat/channels/{known.id}/messages")


def do_mark_read(step: Step) -> None:
    if (known := step.channel) is None:
        return
    with schema_context(known.schema):
        last = Message.objects.filter(channel_id=known.id).order_by("-seq").first()
    if last is not None:
        step.rest("post", f"/api/chat/channels/{known.id}/read", {"messageId": last.pk})


def do_assign(step: Step) -> None:
    if (known := step.channel) is not None:
        assignee = step.world.actors[step.extra % len(step.world.actors)].user.pk
        step.rest("put", f"/api/chat/channels/{known.id}/assign", {"assigneeId": assignee})


def do_escalate(step: Step) -> None:
    if (known := step.channel) is not None:
        step.rest(
            "put", f"/api/chat/channels/{known.id}/escalate", {"reason": f"why {known.marker}"}
        )


def do_hand_back(step: Step) -> None:
    if (known := step.channel) is None:
        return
    escalation = Escalation.objects.filter(channel_id=known.id, state="OPEN").first()
    if escalation is not None:
        step.rest(
            "put",
            f"/api/console/escalations/{escalation.pk}/return",
            {"note": f"back {known.marker}"},
        )
    step.rest("get", "/api/console/escalations")


def do_archive(step: Step) -> None:
    if (known := step.channel) is not None:
        step.rest("delete", f"/api/chat/channels/{known.id}")


def do_add_participant(step: Step) -> None:
    if (known := step.channel) is not None:
        user = step.world.actors[step.extra % len(step.world.actors)].user.pk
        step.rest("post", f"/api/chat/channels/{known.id}/participants", {"userIds": [user]})


def do_role_change(step: Step) -> None:
    actor = step.actor
    if actor.tenant is not None:
        roles = [Role.TENANT_ADMIN, Role.MANAGEMENT_TEAM, Role.PARTICIPANT]
        membership_set(user=actor.user, tenant=actor.tenant, role=roles[step.extra % 3])


REST_ACTIONS = {
    "create": do_create,
    "send": do_send,
    "note": do_note,
    "read_all": do_read_all,
    "mark_read": do_mark_read,
    "assign": do_assign,
    "escalate": do_escalate,
    "hand_back": do_hand_back,
    "archive": do_archive,
    "add_participant": do_add_participant,
    "role_change": do_role_change,
}
WS_ACTIONS = ("ws_join", "ws_send", "ws_note", "ws_typing", "ws_read", "ws_sync")


def _member_hosts(actor: Actor) -> set[str]:
    if actor.tenant is None:
        return {CONSOLE, *(f"{s}.localhost" for s in ("acme", "globex", "initech"))}
    return {host_of(actor.tenant)}


async def _socket(step: Step) -> WebsocketCommunicator:
    key = (step.world.actors.index(step.actor), step.host)
    socket = step.world.sockets.get(key)
    if socket is None:
        headers = [
            (b"host", step.host.encode()),
            (b"authorization", f"Bearer {step.actor.token}".encode()),
        ]
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
        connected, _ = await socket.connect()
        assert connected
        step.world.sockets[key] = socket
    return socket


async def do_ws(step: Step) -> None:
    known = step.channel
    if known is None or step.host not in _member_hosts(step.actor):
        return
    socket = await _socket(step)
    data: dict[str, Any] = {"channelId": known.id}
    event = {"ws_join": "join_channel", "ws_send": "send_message",
             "ws_note": "send_message", "ws_typing": "typing", "ws_read": "mark_read",
             "ws_sync": "sync"}[step.kind]  # fmt: skip
    if step.kind == "ws_send":
        data["content"] = f"socket {known.marker}"
    elif step.kind == "ws_note":
        note = f"nk{known.slug}{next(step.world.counter)}x"
        step.world.notes[note] = known
        data.update(content=f"socket note {note} on {known.marker}", kind="NOTE")
    elif step.kind == "ws_read":
        last = await database_sync_to_async(_last_message_id)(known)
        data["messageId"] = last or 1
    elif step.kind == "ws_sync":
        data["afterId"] = 0
    await socket.send_to(text_data=json.dumps({"event": event, "data": data}))


def _last_message_id(known: Known) -> int | None:
    with schema_context(known.schema):
        last = Message.objects.filter(channel_id=known.id).order_by("-seq").first()
    connection.set_schema_to_public()
    return last.pk if last else None


async def drain(world: World, wait: float) -> None:
    """Delivers what committed, then checks every frame that reached a socket."""
    world.visible.clear()
    await commit()
    await asyncio.sleep(wait)
    for (index, host), socket in world.sockets.items():
        actor = world.actors[index]
        while not socket.output_queue.empty():
            output = socket.output_queue.get_nowait()
            if output["type"] == "websocket.send":
                world.frames += 1
                await database_sync_to_async(check_text)(world, actor, host, output["text"])


def check_unread(world: World) -> None:
    """Each tenant member's badge and channel list on their host equal a recount."""
    for actor in world.actors:
        if actor.tenant is None:
            continue
        step = Step(world, "read_all", world.actors.index(actor), 0, 0, 0)
        mine = [k for k in world.channels if k.slug == actor.tenant.schema_name]
        counts = {k.id: _recount(k, actor.user.pk) for k in mine}
        _, badge = step.rest("get", "/api/chat/unread")
        if badge is None or "total" not in badge:
            continue  # no longer a member of any role with access (a 403 is checked above)
        assert badge["total"] == sum(counts.values()), (actor.user.email, badge, counts)
        assert badge["channels"] == sum(1 for c in counts.values() if c), (badge, counts)
        _, listing = step.rest("get", "/api/chat/channels?limit=200")
        for channel in listing["channels"]:
            if channel["id"] in counts:
                assert channel["unreadCount"] == counts[channel["id"]], (actor.user.email, channel)
            # Every channel they see, in full: its newest messages (internal notes included,
            # for whom they are not) are checked like any body.
            step.rest("get", f"/api/chat/channels/{channel['id']}")


# --- the property ---------------------------------------------------------------------

ACTION_KINDS = [*REST_ACTIONS, *WS_ACTIONS]
actions = st.lists(
    st.tuples(
        st.sampled_from(ACTION_KINDS),
        st.integers(0, 12),  # who (13 actors)
        st.integers(0, 5),  # which of their hosts
        st.integers(0, 7),  # which channel (0-5: of the host's tenant)
        st.integers(0, 12),  # type, role, assignee or participant
    ),
    min_size=3,
    max_size=MAX_STEPS,
)


async def play(world: World, plan: list[tuple[str, int, int, int, int]]) -> None:
    # Every sequence starts with a channel in each tenant so most steps have a target,
    # and a participant's support ticket there (with the admin and the management team),
    # so notes have someone who must not see them.
    for index in (0, 4, 8):
        await database_sync_to_async(do_create)(Step(world, "create", index, 0, index, 0))
    for index in (2, 6, 10):
        await database_sync_to_async(do_create)(Step(world, "create", index, 0, 0, 0))
    try:
        for kind, who, host, target, extra in plan:
            step = Step(world, kind, who, host, target, extra)
            world.visible.clear()
            if kind in REST_ACTIONS:
                await database_sync_to_async(REST_ACTIONS[kind])(step)
            else:
                await do_ws(step)
            await drain(world, 0.02)
            await database_sync_to_async(check_storage)(world)
        await drain(world, 0.2)
        await database_sync_to_async(check_unread)(world)
    finally:
        for socket in world.sockets.values():
            await socket.disconnect()


@pytest.mark.slow
def test_no_action_sequence_leaks_across_tenants_or_channels(make_user):
    base = _world(make_user)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(plan=actions)
    def sequence(plan: list[tuple[str, int, int, int, int]]) -> None:
        global examples_run
        examples_run += 1
        cache.clear()  # rate limits start afresh
        world = World(tenants=base.tenants, actors=base.actors)
        savepoint = transaction.savepoint()
        try:
            async_to_sync(play)(world, plan)
        finally:
            transaction.savepoint_rollback(savepoint)
            connection.set_schema_to_public()
        totals["checked"] += world.observed
        totals["frames"] += world.frames

    totals = {"checked": 0, "frames": 0}
    sequence()
    print(
        f"isolation property: {examples_run} sequences, {totals['checked']} bodies and frames"
        f" checked ({totals['frames']} frames)"
    )
    assert examples_run >= EXAMPLES and totals["frames"] > 0
