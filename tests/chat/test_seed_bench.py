"""manage.py seed_bench: the load-test set-up a harness reads as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, Membership, Role, User
from apps.accounts.selectors import actor_for, token_lookup
from apps.chat.models import Channel, ChannelType, Participant, ParticipantRole
from apps.chat.services import channel_create
from apps.tenancy.models import Domain, Tenant


def seed(tmp_path: Path, *args: str, name: str = "bench.json") -> dict:
    out = tmp_path / name
    call_command("seed_bench", *args, "--out", str(out), stdout=io.StringIO())
    return json.loads(out.read_text())


def counts(slug: str) -> tuple[int, ...]:
    with schema_context(slug):
        chat = (Channel.objects.count(), Participant.objects.count())
    tenant = Tenant.objects.get(schema_name=slug)
    return (
        User.objects.filter(email__endswith=f"@{slug}.test").count(),
        Membership.objects.filter(tenant=tenant).count(),
        ApiToken.objects.filter(user__email__endswith=f"@{slug}.test").count(),
        Domain.objects.filter(tenant=tenant).count(),
        *chat,
    )


def test_creates_rooms_members_moderators_and_tokens(tmp_path: Path) -> None:
    doc = seed(tmp_path, "--rooms", "3", "--members", "4", "--tenant", "benchone")

    assert doc["host"] == "benchone.localhost"
    assert len(doc["rooms"]) == 3 and len(set(doc["rooms"])) == 3
    assert len(doc["members"]) == 12
    tenant = Tenant.objects.get(schema_name="benchone")
    for member in doc["members"]:
        token = token_lookup(raw=member["token"])
        assert token is not None and token.user.email == member["email"]
        assert token.user.check_password(doc["password"])
        assert Membership.objects.get(user=token.user, tenant=tenant).role == Role.PARTICIPANT
    # One shared hash: the bench never pays a password hash per user.
    assert (
        User.objects.filter(email__endswith="@benchone.test").values("password").distinct().count()
        == 1
    )

    by_email = {u.email: u.pk for u in User.objects.filter(email__endswith="@benchone.test")}
    mods = {by_email[e] for e in doc["moderators"]}
    assert len(mods) == 2
    with schema_context("benchone"):
        for index, channel_id in enumerate(doc["rooms"]):
            channel = Channel.objects.get(pk=channel_id)
            assert channel.type == ChannelType.TOURNAMENT
            roles = dict(Participant.objects.filter(channel=channel).values_list("user_id", "role"))
            members = {by_email[m["email"]] for m in doc["members"] if m["room"] == index}
            assert len(members) == 4
            assert roles == {
                **{uid: ParticipantRole.MEMBER for uid in members},
                **{uid: ParticipantRole.ADMIN for uid in mods},
            }
        # Each member is in exactly one room.
        member_ids = {by_email[m["email"]] for m in doc["members"]}
        per_user = Participant.objects.filter(user_id__in=member_ids).values_list(
            "user_id", flat=True
        )
        assert sorted(per_user) == sorted(member_ids)


def test_second_run_adds_nothing_and_replaces_tokens(tmp_path: Path) -> None:
    first = seed(tmp_path, "--rooms", "2", "--members", "3", "--tenant", "benchtwo", name="a")
    before = counts("benchtwo")
    second = seed(tmp_path, "--rooms", "2", "--members", "3", "--tenant", "benchtwo", name="b")

    assert counts("benchtwo") == before
    assert second["rooms"] == first["rooms"]
    assert [m["email"] for m in second["members"]] == [m["email"] for m in first["members"]]
    # Fresh tokens work; the previous ones are revoked.
    assert all(token_lookup(raw=m["token"]) for m in second["members"])
    assert not any(token_lookup(raw=m["token"]) for m in first["members"])

    # A bigger shape grows rooms without moving anyone between them.
    third = seed(tmp_path, "--rooms", "3", "--members", "5", "--tenant", "benchtwo", name="c")
    assert third["rooms"][:2] == first["rooms"]
    with schema_context("benchtwo"):
        assert Participant.objects.filter(channel_id=first["rooms"][0]).count() == 5 + 2
        assert Channel.objects.count() == 3


def test_other_tenants_are_untouched_and_invisible(tmp_path: Path, acme: Tenant, make_user) -> None:
    admin = make_user(acme, Role.TENANT_ADMIN)
    acme_channel = channel_create(
        actor=actor_for(user=admin, tenant=acme),
        type=ChannelType.TOURNAMENT,
        context_id="bench-room-000",  # the same context id the bench uses, in another tenant
    )
    with schema_context("acme"):
        acme_before = list(Participant.objects.order_by("pk").values_list("user_id", "role"))
    acme_members = Membership.objects.filter(tenant=acme).count()

    doc = seed(tmp_path, "--rooms", "1", "--members", "2", "--tenant", "benchthree")

    assert str(acme_channel.pk) not in doc["rooms"]
    with schema_context("acme"):
        assert (
            list(Participant.objects.order_by("pk").values_list("user_id", "role")) == acme_before
        )
    assert Membership.objects.filter(tenant=acme).count() == acme_members

    token = doc["members"][0]["token"]
    own = APIClient(HTTP_HOST=doc["host"], HTTP_AUTHORIZATION=f"Bearer {token}")
    listed = own.get("/api/chat/channels").json()["channels"]
    assert [c["id"] for c in listed] == doc["rooms"]
    assert own.get(f"/api/chat/channels/{acme_channel.pk}").status_code == 404
    other = APIClient(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert other.get("/api/chat/channels").status_code == 403


def test_rejects_an_empty_shape(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        seed(tmp_path, "--rooms", "0", "--members", "5")
