"""python manage.py seed_bench --rooms R --members M --out FILE [--tenant acme]

Sets up a load test without touching internals from outside: a tenant (provisioned when
missing), R TOURNAMENT channels, M PARTICIPANT users per channel (each user in exactly one
channel), two staff moderators of every channel (a tenant admin and a management-team
member, never connected by the load), and a fresh bearer token per member. Writes

    {"host", "password", "tenant", "rooms": [channelId...],
     "members": [{"email", "room", "token"}], "moderators": [email...]}

`room` is an index into `rooms`. Idempotent: a second run adds only what is missing and
replaces the members' tokens (the previous ones are revoked). Users are named after their
room (`bench-r003-m0042@<slug>.test`), so runs with other shapes never move a user to
another room; a room only grows.

Fast for thousands of users: one password hash shared by every bench user, users,
memberships, participants and tokens inserted in bulk. Channels are opened through the
chat service, so the tenant's staff join them as moderators by the product's rules.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import ApiToken, Membership, Role, User
from apps.accounts.selectors import actor_for, token_hash
from apps.chat import services as chat_services
from apps.chat.models import Channel, ChannelType, Participant, ParticipantRole
from apps.tenancy.models import Tenant
from apps.tenancy.services import public_tenant_ensure, tenant_host, tenant_provision

DEFAULT_PASSWORD = "bench-pass-123"
MODERATORS = (
    ("mod1", "Moderator One", Role.TENANT_ADMIN),
    ("mod2", "Moderator Two", Role.MANAGEMENT_TEAM),
)


def member_email(slug: str, room: int, member: int) -> str:
    return f"bench-r{room:03d}-m{member:05d}@{slug}.test"


def moderator_email(slug: str, local: str) -> str:
    return f"bench-{local}@{slug}.test"


def room_context_id(room: int) -> str:
    return f"bench-room-{room:03d}"


class Command(BaseCommand):
    help = (
        "Create (idempotently) a bench tenant's tournament rooms, their members with bearer "
        "tokens and two staff moderators; write them as JSON for a load generator."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rooms", type=int, required=True, help="TOURNAMENT channels.")
        parser.add_argument("--members", type=int, required=True, help="Members per room.")
        parser.add_argument("--out", required=True, help="Where to write the JSON.")
        parser.add_argument(
            "--tenant", default="acme", help="Tenant slug (default: acme, the demo tenant)."
        )
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Every bench user's.")

    def handle(self, *args: Any, **options: Any) -> None:
        rooms, members = options["rooms"], options["members"]
        if rooms < 1 or members < 1:
            raise CommandError("--rooms and --members must be at least 1.")
        slug, password = options["tenant"], options["password"]

        public_tenant_ensure()
        tenant = Tenant.objects.filter(schema_name=slug).first()
        if tenant is None:
            tenant = tenant_provision(slug=slug, name=f"Bench {slug}").tenant
        if tenant.is_public:
            raise CommandError("The bench needs a tenant, not the public schema.")

        member_emails = [[member_email(slug, r, j) for j in range(members)] for r in range(rooms)]
        flat = [email for room in member_emails for email in room]
        mod_emails = [moderator_email(slug, local) for local, _, _ in MODERATORS]

        with transaction.atomic():
            users = self._users(flat + mod_emails, password)
            self._memberships(
                tenant,
                {users[e].pk: Role.PARTICIPANT for e in flat}
                | {users[moderator_email(slug, local)].pk: role for local, _, role in MODERATORS},
            )
        mods = [users[e] for e in mod_emails]
        actor = actor_for(user=mods[0], tenant=tenant)
        channel_ids = []
        for r in range(rooms):
            ids = [users[e].pk for e in member_emails[r]]
            channel_ids.append(self._room(tenant, actor, r, ids, [m.pk for m in mods]))
        with transaction.atomic():
            tokens = self._tokens([users[e] for e in flat])

        document = {
            "host": tenant_host(slug),
            "tenant": slug,
            "password": password,
            "rooms": channel_ids,
            "members": [
                {"email": email, "room": r, "token": tokens[email]}
                for r, room in enumerate(member_emails)
                for email in room
            ],
            "moderators": mod_emails,
        }
        out = Path(options["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document))
        self.stdout.write(
            f"{document['host']}: {rooms} rooms x {members} members, "
            f"{len(mod_emails)} moderators -> {out}"
        )

    def _users(self, emails: list[str], password: str) -> dict[str, User]:
        existing = {u.email: u for u in User.objects.filter(email__in=emails)}
        hashed = None
        sample = next(iter(existing.values()), None)
        if sample is not None and not sample.check_password(password):
            hashed = make_password(password)
            User.objects.filter(email__in=list(existing)).update(password=hashed)
        missing = [e for e in emails if e not in existing]
        if missing:
            hashed = hashed or make_password(password)
            User.objects.bulk_create(
                [User(email=e, display_name=e.split("@")[0], password=hashed) for e in missing],
                batch_size=1000,
            )
        users = {u.email: u for u in User.objects.filter(email__in=emails)}
        inactive = [e for e, u in users.items() if not u.is_active]
        if inactive:
            User.objects.filter(email__in=inactive).update(is_active=True)
        return users

    def _memberships(self, tenant: Tenant, roles: dict[int, Role]) -> None:
        have = dict(
            Membership.objects.filter(tenant=tenant, user_id__in=list(roles)).values_list(
                "user_id", "role"
            )
        )
        Membership.objects.bulk_create(
            [
                Membership(user_id=uid, tenant=tenant, role=role)
                for uid, role in roles.items()
                if uid not in have
            ],
            batch_size=1000,
        )
        for uid, role in roles.items():
            if uid in have and have[uid] != role:
                Membership.objects.filter(user_id=uid, tenant=tenant).update(role=role)

    def _room(
        self, tenant: Tenant, actor: Any, room: int, member_ids: list[int], mod_ids: list[int]
    ) -> str:
        context_id = room_context_id(room)
        with schema_context(tenant.schema_name):
            channel = Channel.objects.filter(
                type=ChannelType.TOURNAMENT, context_id=context_id
            ).first()
        if channel is None:
            # The service adds every staff member of the tenant as a moderator.
            channel = chat_services.channel_create(
                actor=actor,
                type=ChannelType.TOURNAMENT,
                participant_ids=member_ids,
                subject=f"Bench room {room}",
                context_id=context_id,
            )
            return str(channel.pk)
        with schema_context(tenant.schema_name), transaction.atomic():
            present = set(
                Participant.objects.filter(channel=channel).values_list("user_id", flat=True)
            )
            Participant.objects.bulk_create(
                [
                    Participant(channel=channel, user_id=uid, role=ParticipantRole.MEMBER)
                    for uid in member_ids
                    if uid not in present
                ]
                + [
                    Participant(channel=channel, user_id=uid, role=ParticipantRole.ADMIN)
                    for uid in mod_ids
                    if uid not in present
                ],
                batch_size=1000,
            )
        return str(channel.pk)

    def _tokens(self, users: list[User]) -> dict[str, str]:
        """A fresh token per member (stored as its SHA-256, as `token_issue` does); the
        members' earlier tokens are revoked, so runs do not pile tokens up."""
        ApiToken.objects.filter(user__in=users).delete()
        expires = timezone.now() + timedelta(seconds=settings.TOKEN_TTL_SECONDS)
        raw = {u.email: secrets.token_urlsafe(32) for u in users}
        ApiToken.objects.bulk_create(
            [
                ApiToken(user=u, key_hash=token_hash(raw[u.email]), expires_at=expires)
                for u in users
            ],
            batch_size=1000,
        )
        return raw
