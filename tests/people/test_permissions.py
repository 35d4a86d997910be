"""Who may manage invitations, from one table: (actor, action, expected status).

Actors on acme's host: admin (TENANT_ADMIN), team (MANAGEMENT_TEAM), player
(PARTICIPANT), super (a super admin, no membership), outsider (globex's admin).
Existing invitations: one to a PARTICIPANT, one to a TENANT_ADMIN (sent by acme's admin).
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Invitation, Role
from apps.people.services import invitation_create
from apps.tenancy.models import Tenant
from tests.people.test_invitations import snapshot

MATRIX = [
    ("admin", "invite_participant", 201),
    ("admin", "invite_team", 201),
    ("admin", "invite_admin", 201),
    ("admin", "list", 200),
    ("admin", "revoke_participant", 204),
    ("admin", "revoke_admin", 204),
    ("team", "invite_participant", 201),
    ("team", "invite_team", 403),
    ("team", "invite_admin", 403),
    ("team", "list", 200),
    ("team", "revoke_participant", 204),
    ("team", "revoke_admin", 404),
    ("player", "invite_participant", 403),
    ("player", "invite_admin", 403),
    ("player", "list", 403),
    ("player", "revoke_participant", 403),
    ("super", "invite_participant", 403),
    ("super", "list", 403),
    ("super", "revoke_participant", 403),
    ("outsider", "invite_participant", 403),
    ("outsider", "list", 403),
    ("outsider", "revoke_participant", 403),
]


@pytest.fixture
def existing(org: Any) -> dict[str, Invitation]:
    from apps.accounts.actors import Actor

    actor = Actor(user=org.admin, tenant=org.tenant, role=Role.TENANT_ADMIN)
    return {
        role: invitation_create(
            actor=actor, email=f"{role.lower()}@example.test", role=role
        ).invitation
        for role in (Role.PARTICIPANT, Role.TENANT_ADMIN)
    }


def _act(client: Any, action: str, existing: dict[str, Invitation]) -> Any:
    if action.startswith("invite_"):
        role = {"participant": "PARTICIPANT", "team": "MANAGEMENT_TEAM", "admin": "TENANT_ADMIN"}
        body = {"email": "newcomer@example.test", "role": role[action.split("_")[1]]}
        return client.post("/api/invitations", body, format="json")
    if action == "list":
        return client.get("/api/invitations")
    target = existing[Role.PARTICIPANT if action.endswith("participant") else Role.TENANT_ADMIN]
    return client.delete(f"/api/invitations/{target.pk}")


@pytest.mark.parametrize(
    ("actor", "action", "expected"), MATRIX, ids=[f"{a}-{act}" for a, act, _ in MATRIX]
)
def test_matrix(actor, action, expected, org, other_org, super_admin, existing, client_for):
    people = {
        "admin": org.admin,
        "team": org.team,
        "player": org.player,
        "super": super_admin,
        "outsider": other_org.admin,
    }
    client = client_for(org.tenant, people[actor])
    before = snapshot()

    response = _act(client, action, existing)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"error"}
        assert snapshot() == before, "a refusal changed state"
    if action == "list" and expected == 200:
        roles = {i["role"] for i in response.json()["invitations"]}
        assert roles == ({"PARTICIPANT"} if actor == "team" else {"PARTICIPANT", "TENANT_ADMIN"})


def test_invitations_are_refused_on_the_console_host(
    public_tenant: Tenant, super_admin, client_for
):
    client = client_for(public_tenant, super_admin)
    response = client.post(
        "/api/invitations", {"email": "x@example.test", "role": "PARTICIPANT"}, format="json"
    )
    assert response.status_code == 403
    assert client.get("/api/invitations").status_code == 403
