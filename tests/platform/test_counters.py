"""The tenant counters behind the console's figures: kept in the public schema by the
writes that change them, equal to a recount from the schemas after any operations; and
the platform totals the figures read, equal to the sum of every tenant's counts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count, F
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.accounts.actors import Actor
from apps.accounts.models import Role, User
from apps.accounts.selectors import actor_for
from apps.accounts.services import membership_set, user_create
from apps.chat import services
from apps.chat.models import Channel, Message
from apps.core.exceptions import ApplicationError
from apps.platform import services as console
from apps.platform.recount import counted, recount
from apps.platform.selectors import platform_figures_now
from apps.records import counters
from apps.records.models import PlatformCount, TenantCount, TenantTally
from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_provision
from tests.conftest import Org

_slugs = itertools.count(1)


def _counts_of(*tenants: Tenant) -> dict[str, counters.Counts]:
    found = counters.per_tenant(t.pk for t in tenants)
    return {t.schema_name: found.get(t.pk, counters.ZERO) for t in tenants}


def _tenants_by_status() -> dict[str, int]:
    """The tenants counted by status, from the tenants table itself."""
    tenants = Tenant.objects.exclude(schema_name="public").values("status")
    return {row["status"]: row["n"] for row in tenants.annotate(n=Count("id"))}


def test_the_tenant_tally_follows_provisioning_suspension_and_deletion(super_admin: User) -> None:
    console_actor = _console(super_admin)
    made = tenant_provision(slug="tallied", name="Tallied")
    assert counters.tenant_tally() == _tenants_by_status()
    console.tenant_suspend(actor=console_actor, slug="tallied", reason="unpaid")
    assert counters.tenant_tally() == _tenants_by_status()
    assert counters.tenant_tally()["SUSPENDED"] >= 1
    console.tenant_delete(actor=console_actor, slug="tallied", confirm="tallied")
    assert counters.tenant_tally() == _tenants_by_status()
    assert not Tenant.objects.filter(pk=made.tenant.pk).exists()


def test_recount_repairs_a_tenant_tally_that_drifted(org: Org) -> None:
    TenantTally.objects.update(tenants=999)
    TenantTally.objects.create(status="GONE", tenants=3)
    assert counters.tenant_tally() != _tenants_by_status()
    recount()
    assert counters.tenant_tally() == _tenants_by_status()


def _sum_of_tenants() -> counters.Counts:
    """Every tenant's counts added up, read from the tenants' own rows."""
    every = counters.per_tenant(Tenant.objects.values_list("pk", flat=True))
    return sum(every.values(), counters.ZERO)


def test_writes_move_the_counters_in_their_transaction(org: Org, other_org: Org) -> None:
    admin = actor_for(user=org.admin, tenant=org.tenant)
    player = actor_for(user=org.player, tenant=org.tenant)
    assert admin and player
    before = _counts_of(org.tenant, other_org.tenant)

    ticket = services.channel_create(actor=player, type="SUPPORT", subject="Help")
    services.message_send(actor=player, channel_id=ticket.pk, content="Hello")
    services.channel_escalate(actor=admin, channel_id=ticket.pk, reason="Stuck")

    after = _counts_of(org.tenant, other_org.tenant)
    moved = after["acme"] - before["acme"]
    assert moved.channels == 1 and moved.open_tickets == 1
    assert moved.escalated_channels == 1 and moved.active_channels == 0
    with schema_context("acme"):  # the message and the escalation's SYSTEM entry
        assert moved.messages == Message.objects.filter(channel_id=ticket.pk).count() == 2
    assert after["globex"] == before["globex"]  # the other tenant's counters did not move


def test_two_tenants_writes_both_reach_the_totals_and_only_their_own_counts(
    org: Org, other_org: Org
) -> None:
    acme_player = actor_for(user=org.player, tenant=org.tenant)
    globex_admin = actor_for(user=other_org.admin, tenant=other_org.tenant)
    assert acme_player and globex_admin
    before, total_before = _counts_of(org.tenant, other_org.tenant), counters.total()

    ticket = services.channel_create(actor=acme_player, type="SUPPORT", subject="Help")
    services.message_send(actor=acme_player, channel_id=ticket.pk, content="Hello")
    acme_moved = _counts_of(org.tenant, other_org.tenant)
    team = services.channel_create(actor=globex_admin, type="TEAM")
    for text in ("one", "two", "three"):
        services.message_send(actor=globex_admin, channel_id=team.pk, content=text)
    after = _counts_of(org.tenant, other_org.tenant)

    assert acme_moved["globex"] == before["globex"]  # acme's writes left globex alone
    assert after["acme"] == acme_moved["acme"]  # and globex's left acme alone
    acme = after["acme"] - before["acme"]
    globex = after["globex"] - before["globex"]
    assert (acme.channels, acme.open_tickets, acme.messages) == (1, 1, 1)
    assert (globex.channels, globex.open_tickets, globex.messages) == (1, 0, 3)
    assert counters.total() - total_before == acme + globex
    assert counters.total() == _sum_of_tenants()


def test_a_failed_write_leaves_the_counters_as_they_were(org: Org) -> None:
    player = actor_for(user=org.player, tenant=org.tenant)
    assert player
    ticket = services.channel_create(actor=player, type="SUPPORT", subject="Help")
    before = _counts_of(org.tenant)
    with pytest.raises(ApplicationError):  # players may not resolve
        services.channel_resolve(actor=player, channel_id=ticket.pk)
    with pytest.raises(ApplicationError):
        services.message_send(actor=player, channel_id=ticket.pk, content="   ")
    assert _counts_of(org.tenant) == before


def test_platform_tickets_are_not_counted_as_tenant_channels(org: Org) -> None:
    admin = actor_for(user=org.admin, tenant=org.tenant)
    assert admin
    before = _counts_of(org.tenant)
    ticket = services.channel_create(actor=admin, type="PLATFORM_SUPPORT", subject="Billing")
    services.message_send(actor=admin, channel_id=ticket.pk, content="Invoice?")
    assert _counts_of(org.tenant) == before


def test_recount_repairs_counters_that_drifted(org: Org) -> None:
    player = actor_for(user=org.player, tenant=org.tenant)
    assert player
    ticket = services.channel_create(actor=player, type="SUPPORT", subject="Help")
    services.message_send(actor=player, channel_id=ticket.pk, content="Hello")
    true_counts = counted(["acme"])["acme"]  # read from the schema
    assert true_counts.channels >= 1 and true_counts.messages >= 1
    TenantCount.objects.filter(tenant=org.tenant).update(channels=99, messages=0)
    assert _counts_of(org.tenant)["acme"] != true_counts

    recount()

    assert _counts_of(org.tenant)["acme"] == true_counts
    assert TenantCount.objects.filter(tenant=org.tenant).count() == 1
    assert counters.total() == _sum_of_tenants()


def test_recount_repairs_platform_totals_that_drifted(org: Org) -> None:
    player = actor_for(user=org.player, tenant=org.tenant)
    assert player
    ticket = services.channel_create(actor=player, type="SUPPORT", subject="Help")
    services.message_send(actor=player, channel_id=ticket.pk, content="Hello")
    shown = platform_figures_now()
    # Totals changed behind the trigger's back: a row off, a row missing, a stray row.
    PlatformCount.objects.filter(slot=3).update(channels=F("channels") + 50, messages=-7)
    PlatformCount.objects.filter(slot=5).delete()
    PlatformCount.objects.create(slot=counters.PLATFORM_SLOTS + 1, open_tickets=9)
    # And counts of a tenant deleted without its cascade (the trigger counts them in).
    gone = (Tenant.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    TenantCount.objects.create(tenant_id=gone, slot=0, channels=4, messages=40)
    assert platform_figures_now() != shown

    recount()

    assert platform_figures_now() == shown
    assert counters.total() == _sum_of_tenants()
    assert sorted(PlatformCount.objects.values_list("slot", flat=True)) == list(
        range(counters.PLATFORM_SLOTS)
    )
    # The trigger keeps following the repaired rows.
    services.message_send(actor=player, channel_id=ticket.pk, content="Again")
    assert platform_figures_now()["messages"] == shown["messages"] + 1


def test_the_totals_follow_every_statement_on_the_tenant_rows(org: Org, other_org: Org) -> None:
    """Whatever writes the tenant rows (the counters' upserts, the message's statement, a
    recount's delete and insert, a cascade, a hand-written statement), the trigger adds
    the change to the totals in its transaction."""
    acme, globex = org.tenant.pk, other_org.tenant.pk
    table = counters.TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE tenant_id IN (%s, %s)", [acme, globex])
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, slot, channels, active_channels, "
            "escalated_channels, open_tickets, messages) VALUES "
            "(%s, 1, 3, 2, 1, 1, 40), (%s, 2, 5, 0, 0, 0, 7), (%s, 3, 0, 0, 0, 0, 0)",
            [acme, acme, globex],
        )
        assert counters.total() == _sum_of_tenants()
        cursor.execute(f"UPDATE {table} SET messages = messages + 1 WHERE tenant_id = %s", [acme])
        # A row moved to another tenant and slot leaves the first and counts for the other.
        cursor.execute(
            f"UPDATE {table} SET tenant_id = %s, slot = 7 WHERE tenant_id = %s AND slot = 2",
            [globex, acme],
        )
        cursor.execute(f"UPDATE {table} SET channels = channels WHERE tenant_id = %s", [acme])
    assert _counts_of(org.tenant, other_org.tenant) == {
        "acme": counters.Counts(3, 2, 1, 1, 41),
        "globex": counters.Counts(channels=5, messages=8),
    }
    assert counters.total() == _sum_of_tenants()


def test_deleting_a_tenant_takes_its_counts_out_of_the_figures(super_admin: User) -> None:
    before = platform_figures_now()
    made = tenant_provision(slug="countgone", name="Gone", admin_email="gone@example.test")
    assert made.admin
    admin = actor_for(user=made.admin, tenant=made.tenant)
    assert admin
    for _ in range(3):  # channels in several slots
        team = services.channel_create(actor=admin, type="TEAM")
        services.message_send(actor=admin, channel_id=team.pk, content="hi")
    assert TenantCount.objects.filter(tenant=made.tenant).exists()
    counted_in = platform_figures_now()
    assert (counted_in["channels"], counted_in["messages"]) == (
        before["channels"] + 3,
        before["messages"] + 3,
    )

    console.tenant_delete(actor=_console(super_admin), slug="countgone", confirm="countgone")

    assert not TenantCount.objects.filter(tenant_id=made.tenant.pk).exists()
    assert platform_figures_now() == before
    assert counters.total() == _sum_of_tenants()


def _console(user: User) -> Actor:
    public = Tenant.objects.get(schema_name="public")
    actor = actor_for(user=user, tenant=public)
    assert actor
    return actor


# --- the property: counters equal a recount after any operations --------------------------


@dataclass
class World:
    super_admin: User
    tenants: list[Tenant] = field(default_factory=list)
    admins: dict[int, User] = field(default_factory=dict)
    players: dict[int, User] = field(default_factory=dict)

    def actor(self, tenant: Tenant, who: str) -> Actor:
        if who == "super":
            user = self.super_admin
        else:
            user = (self.admins if who == "admin" else self.players)[tenant.pk]
        found = actor_for(user=user, tenant=tenant)
        assert found is not None
        return found

    def channel(self, tenant: Tenant, pick: int) -> Any:
        with schema_context(tenant.schema_name):
            ids = list(Channel.objects.order_by("created_at", "id").values_list("pk", flat=True))
        return ids[pick % len(ids)] if ids else None


def _provision(world: World) -> None:
    n = next(_slugs)
    made = tenant_provision(slug=f"prop{n}", name=f"Prop {n}", admin_email=f"pa{n}@example.test")
    assert made.admin
    player = user_create(email=f"pp{n}@example.test", password="x" * 12, display_name="P")
    membership_set(user=player, tenant=made.tenant, role=Role.PARTICIPANT)
    world.tenants.append(made.tenant)
    world.admins[made.tenant.pk] = made.admin
    world.players[made.tenant.pk] = player


def _on_channel(world: World, op: str, tenant: Tenant, channel: Any) -> None:
    admin, player = world.actor(tenant, "admin"), world.actor(tenant, "player")
    if op == "message":
        services.message_send(actor=player, channel_id=channel, content="hi")
    elif op == "staff_message":
        services.message_send(actor=admin, channel_id=channel, content="on it")
    elif op == "escalate":
        services.channel_escalate(actor=admin, channel_id=channel, reason="help")
    elif op == "return":
        services.channel_deescalate(actor=world.actor(tenant, "super"), channel_id=channel)
    elif op == "resolve":
        services.channel_resolve(actor=admin, channel_id=channel)
    elif op == "archive":
        services.channel_archive(actor=admin, channel_id=channel)
    elif op == "reopen":
        services.ticket_update(actor=admin, channel_id=channel, status="OPEN")
    elif op == "add_member":
        services.participants_add(
            actor=admin, channel_id=channel, user_ids=[world.players[tenant.pk].pk]
        )


def _apply(world: World, op: str, a: int, b: int) -> None:
    if op == "provision" or not world.tenants:
        _provision(world)
        return
    tenant = world.tenants[a % len(world.tenants)]
    if op == "delete":
        console.tenant_delete(
            actor=_console(world.super_admin), slug=tenant.schema_name, confirm=tenant.schema_name
        )
        world.tenants.remove(tenant)
    elif op == "suspend":
        console.tenant_suspend(
            actor=_console(world.super_admin), slug=tenant.schema_name, reason="r"
        )
    elif op == "reactivate":
        console.tenant_reactivate(actor=_console(world.super_admin), slug=tenant.schema_name)
    elif op == "support":
        services.channel_create(actor=world.actor(tenant, "player"), type="SUPPORT", subject="s")
    elif op == "team":
        services.channel_create(actor=world.actor(tenant, "admin"), type="TEAM")
    elif (channel := world.channel(tenant, b)) is not None:
        _on_channel(world, op, tenant, channel)


# Channel work more often than tenant work (provisioning and dropping are slower).
OPS = [
    "provision",
    "delete",
    "suspend",
    "reactivate",
    "support",
    "support",
    "team",
    "message",
    "staff_message",
    "escalate",
    "return",
    "resolve",
    "archive",
    "reopen",
    "add_member",
]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Every write that moves a counter, in the order that reaches it, whatever else is drawn.
@example(
    [
        (op, 0, 0)
        for op in (
            "support",
            "message",
            "staff_message",
            "escalate",
            "return",
            "resolve",
            "message",  # the requester reopens the resolved ticket
            "escalate",
            "resolve",
            "reopen",
            "add_member",
            "archive",
        )
    ]
)
@example([("provision", 0, 0), ("team", 2, 0), ("message", 2, 0), ("delete", 2, 0)])
@given(
    st.lists(
        # Few tenants and channels to pick from, so operations meet the same channel.
        st.tuples(st.sampled_from(OPS), st.integers(0, 2), st.integers(0, 2)),
        min_size=1,
        max_size=16,
    )
)
def test_counters_equal_a_recount_after_any_operations(
    super_admin: User, org: Org, other_org: Org, ops: list[tuple[str, int, int]]
) -> None:
    # Each example in a savepoint rolled back at its end, which also releases the locks
    # its provisioning and dropping took (the test's transaction stays open throughout).
    example = transaction.savepoint()
    try:
        _run_and_check(super_admin, [org, other_org], ops)
    finally:
        transaction.savepoint_rollback(example)


def _run_and_check(super_admin: User, orgs: list[Org], ops: list[tuple[str, int, int]]) -> None:
    recount()  # from counters that match the schemas, whatever earlier tests committed
    world = World(super_admin=super_admin)
    for o in orgs:
        world.tenants.append(o.tenant)
        world.admins[o.tenant.pk], world.players[o.tenant.pk] = o.admin, o.player
    for op, a, b in ops:
        try:
            with transaction.atomic():  # a refused operation leaves nothing behind
                _apply(world, op, a, b)
        except ApplicationError:
            pass
        with connection.cursor() as cursor:  # the checks each operation's commit runs
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
    connection.set_schema_to_public()
    tenants = list(Tenant.objects.exclude(schema_name="public"))
    kept = _counts_of(*tenants)
    totals = counters.total()
    assert totals == sum(kept.values(), counters.ZERO)
    assert counters.tenant_tally() == _tenants_by_status()

    recount()

    assert _counts_of(*tenants) == kept
    assert counters.total() == totals
    assert counters.tenant_tally() == _tenants_by_status()
