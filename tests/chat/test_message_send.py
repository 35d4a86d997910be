"""Sending a message: a member's team or tournament message is one statement; everything
else, and every refusal, goes the general way with the same outcome as before."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.accounts.models import Role, User
from apps.accounts.selectors import actor_for
from apps.accounts.services import membership_set, user_create
from apps.chat.models import (
    ID_SEQUENCE,
    Channel,
    ChannelStatus,
    Message,
    Participant,
    ParticipantRole,
)
from apps.chat.payloads import message_payload
from apps.chat.services import channel_create, message_send
from apps.core.db import cursor_as_it_stands
from apps.core.exceptions import Conflict, Forbidden, NotFound
from apps.records import counters
from apps.records.models import AuditEntry
from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_provision
from tests.conftest import search_path, statements_run


def _actor(tenant: Tenant, user: User) -> Actor:
    actor = actor_for(user=user, tenant=tenant)
    assert actor is not None
    return actor


def _messages(tenant: Tenant) -> int:
    return counters.per_tenant([tenant.pk]).get(tenant.pk, counters.ZERO).messages


@pytest.fixture
def tournament(org) -> Channel:  # type: ignore[no-untyped-def]
    return channel_create(
        actor=_actor(org.tenant, org.admin),
        type="TOURNAMENT",
        context_id="cup-1",
        participant_ids=[org.player.id, org.player2.id],
    )


def test_a_members_tournament_message_is_one_statement_with_everything_it_moves(
    org, tournament, published
):
    counted = _messages(org.tenant)
    published.clear()
    player = _actor(org.tenant, org.player)
    with schema_context(org.tenant.schema_name):
        before = Channel.objects.get(pk=tournament.pk)
        with CaptureQueriesContext(connection) as captured:
            message = message_send(actor=player, channel_id=tournament.pk, content="GG")
        after = Channel.objects.get(pk=tournament.pk)
        stored = Message.objects.get(pk=message.pk)
        marks = {
            p.user_id: p.last_read_seq for p in Participant.objects.filter(channel_id=tournament.pk)
        }

    assert len(captured) == 1, [q["sql"] for q in captured]
    assert (stored.seq, stored.public_seq) == (before.last_seq + 1, before.last_public_seq + 1)
    assert (stored.content, stored.sender_id, stored.kind) == ("GG", org.player.id, "USER")
    assert message_payload(message) == message_payload(stored)
    assert after.last_message_id == stored.pk
    assert (after.last_seq, after.last_public_seq) == (stored.seq, stored.public_seq)
    assert after.last_activity_at == stored.created_at
    assert marks[org.player.id] == stored.seq  # the author has read their own message
    assert marks[org.admin.id] < stored.seq
    assert _messages(org.tenant) == counted + 1
    (new,) = published.named("new_message")
    assert new.data == message_payload(stored)
    (badges,) = published.named("unread_changed")
    assert badges.data["seq"] == stored.public_seq
    assert {user for user, _ in badges.data["readers"]} == set(marks) - {org.player.id}
    assert {org.admin.id, org.player2.id} < set(marks)


def _nothing_changed(tenant: Tenant, channel: Channel, counted: int) -> None:
    with schema_context(tenant.schema_name):
        now = Channel.objects.get(pk=channel.pk)
        assert (now.last_seq, now.last_message_id) == (channel.last_seq, channel.last_message_id)
        assert not Message.objects.filter(channel_id=channel.pk, content="Refused?").exists()
    assert _messages(tenant) == counted


def _observer(org: Any, channel: Channel) -> None:
    Participant.objects.filter(channel=channel, user=org.player).update(
        role=ParticipantRole.OBSERVER
    )


def _archived(org: Any, channel: Channel) -> None:
    Channel.objects.filter(pk=channel.pk).update(status=ChannelStatus.ARCHIVED)


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [(_observer, Forbidden, "observer"), (_archived, Conflict, "channel_archived")],
)
def test_an_observer_or_an_archived_channel_is_refused_as_before(
    org, tournament, change, error, code
):
    with schema_context(org.tenant.schema_name):
        change(org, tournament)
        tournament.refresh_from_db()
    counted = _messages(org.tenant)
    with pytest.raises(error) as refused:
        message_send(
            actor=_actor(org.tenant, org.player), channel_id=tournament.pk, content="Refused?"
        )
    assert refused.value.code == code
    _nothing_changed(org.tenant, tournament, counted)


def test_a_channel_the_sender_is_not_in_is_not_found(org, make_user):
    outsider = make_user(org.tenant, Role.PARTICIPANT)
    channel = channel_create(
        actor=_actor(org.tenant, org.admin), type="TOURNAMENT", context_id="cup-2"
    )
    counted = _messages(org.tenant)
    with pytest.raises(NotFound):
        message_send(actor=_actor(org.tenant, outsider), channel_id=channel.pk, content="Refused?")
    _nothing_changed(org.tenant, channel, counted)


def test_another_tenants_team_channel_is_not_found_and_untouched(org, other_org):
    """The channel's id is known, and its member also belongs to our tenant: the statement
    runs on the sender's host tenant's schema, where that channel does not exist."""
    theirs = channel_create(
        actor=_actor(other_org.tenant, other_org.admin),
        type="TEAM",
        participant_ids=[other_org.team.id],
    )
    membership_set(user=other_org.team, tenant=org.tenant, role=Role.MANAGEMENT_TEAM)
    counted = _messages(other_org.tenant)
    with pytest.raises(NotFound):
        message_send(
            actor=_actor(org.tenant, other_org.team), channel_id=theirs.pk, content="Refused?"
        )
    _nothing_changed(other_org.tenant, theirs, counted)


def _id_sequence(schema: str) -> int:
    with cursor_as_it_stands() as cursor:
        cursor.execute(f'SELECT last_value FROM "{schema}".{ID_SEQUENCE}')
        return int(cursor.fetchone()[0])


def test_a_message_lands_in_its_tenants_schema_whatever_the_connections_search_path(
    org, other_org, tournament
):
    """The statement names its tenant's schema in every table and its id sequence: on a
    connection whose search path is another tenant's, it sets no path and touches nothing
    of the other tenant's."""
    acme, globex = org.tenant.schema_name, other_org.tenant.schema_name
    globex_ids = _id_sequence(globex)
    player = _actor(org.tenant, org.player)
    with schema_context(globex):
        globex_messages = Message.objects.count()  # the search path is now Globex's
        assert globex in search_path()
        with statements_run() as ran:
            message = message_send(actor=player, channel_id=tournament.pk, content="Ours")
        assert len(ran) == 1, ran
        assert ran[0].startswith("WITH moved_channel")
        assert globex in search_path()  # left as it stood
        assert Message.objects.count() == globex_messages
    assert _id_sequence(globex) == globex_ids
    assert _id_sequence(acme) == message.pk
    with schema_context(acme):
        stored = Message.objects.get(pk=message.pk)
    assert (stored.channel_id, stored.content) == (tournament.pk, "Ours")


def test_rest_sends_alternating_between_tenants_set_no_search_path_and_stay_apart(
    org, other_org, tournament, client_for
):
    """Each send is two statements (the host with the credential, the message), with no
    `SET search_path` between tenants; each tenant reads back only its own messages."""
    theirs = channel_create(
        actor=_actor(other_org.tenant, other_org.admin),
        type="TOURNAMENT",
        context_id="cup-9",
        participant_ids=[other_org.player.id],
    )
    sends = [
        (client_for(org.tenant, org.player), tournament, "acme"),
        (client_for(other_org.tenant, other_org.player), theirs, "globex"),
    ]

    def send(n: int) -> None:
        for client, channel, name in sends:
            answer = client.post(
                f"/api/chat/channels/{channel.pk}/messages",
                {"content": f"{name} {n}"},
                format="json",
            )
            assert answer.status_code == 201, answer.content

    send(0)  # each token's first use also notes its last use
    with statements_run() as ran:
        for n in range(1, 4):
            send(n)
    assert len(ran) == 12, ran
    assert [s.split()[0] for s in ran] == ["SELECT", "WITH"] * 6
    for client, channel, name in sends:
        page = client.get(f"/api/chat/channels/{channel.pk}/messages").json()
        contents = [m["content"] for m in page["messages"] if m["senderType"] != "SYSTEM"]
        assert contents == [f"{name} {n}" for n in range(3, -1, -1)], contents  # newest first


def test_a_tickets_messages_go_the_general_way_after_the_first(org, client_for):
    ticket = channel_create(
        actor=_actor(org.tenant, org.player), type="SUPPORT", subject="Scores are wrong"
    )
    admin = _actor(org.tenant, org.admin)
    tried = []
    for text in ("Looking", "Fixed"):
        with CaptureQueriesContext(connection) as captured:
            message_send(actor=admin, channel_id=ticket.pk, content=text)
        tried.append(any("c.last_seq + 1" in q["sql"] for q in captured))
    assert tried == [True, False]
    with schema_context(org.tenant.schema_name):
        ticket = Channel.objects.select_related("ticket").get(pk=ticket.pk)
        first = Message.objects.get(channel=ticket, content="Looking")
    # The ticket's own steps ran: the first answer set its first response.
    assert ticket.ticket.first_response_at is not None
    assert ticket.ticket.first_response_at >= first.created_at


SENDERS = 4
EACH = 25


@pytest.fixture(scope="module")
def busy_room(django_db_blocker: Any) -> Iterator[tuple[Tenant, list[User], str]]:
    """A committed tenant with a tournament channel of SENDERS members (other connections see
    it); dropped afterwards."""
    with django_db_blocker.unblock():
        tenant = tenant_provision(slug="sendrace", name="Send race").tenant
        users = [
            user_create(email=f"sendrace-{n}@example.test", password="x" * 12, display_name=n)
            for n in range(SENDERS)
        ]
        try:
            for n, user in enumerate(users):
                role = Role.TENANT_ADMIN if n == 0 else Role.PARTICIPANT
                membership_set(user=user, tenant=tenant, role=role)
            channel = channel_create(
                actor=_actor(tenant, users[0]),
                type="TOURNAMENT",
                context_id="race",
                participant_ids=[u.pk for u in users[1:]],
            )
            connection.set_schema_to_public()
            yield tenant, users, str(channel.pk)
        finally:
            connection.set_schema_to_public()
            Tenant.objects.get(pk=tenant.pk).delete(force_drop=True)
            User.objects.filter(pk__in=[u.pk for u in users]).delete()
            AuditEntry.objects.filter(tenant_slug="sendrace").delete()


def test_concurrent_senders_get_every_sequence_number_once(busy_room, django_db_blocker):
    tenant, users, channel_id = busy_room
    start = threading.Barrier(SENDERS)
    errors: list[BaseException] = []

    def sender(user: User) -> None:
        try:
            actor = _actor(tenant, user)
            start.wait(timeout=5)
            for n in range(EACH):
                message_send(actor=actor, channel_id=channel_id, content=f"{user.pk}:{n}")
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        counted = _messages(tenant)
        threads = [threading.Thread(target=sender, args=(u,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        sent = _messages(tenant) - counted
        with schema_context(tenant.schema_name):
            channel = Channel.objects.get(pk=channel_id)
            rows = list(
                Message.objects.filter(channel_id=channel_id, kind="USER")
                .order_by("seq")
                .values_list("seq", "public_seq", "sender_id", "content", "id")
            )
            marks = dict(
                Participant.objects.filter(channel_id=channel_id).values_list(
                    "user_id", "last_read_seq"
                )
            )

    assert sent == SENDERS * EACH
    assert len(rows) == SENDERS * EACH
    seqs = [r[0] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no repeat
    assert [r[1] - r[0] for r in rows] == [rows[0][1] - rows[0][0]] * len(rows)
    assert channel.last_seq == seqs[-1]
    assert channel.last_message_id == rows[-1][4]
    for user in users:  # each sender's messages in their own order, and read up to them
        mine = [r for r in rows if r[2] == user.pk]
        assert [r[3] for r in mine] == [f"{user.pk}:{n}" for n in range(EACH)]
        assert marks[user.pk] >= mine[-1][0]
