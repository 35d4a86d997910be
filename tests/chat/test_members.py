"""The tenant's members on its host: who sees whom, what tenant admins change, the last
admin, what a role change does to existing channels, bad input and other tenants."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import Membership, MembershipStatus, Role
from apps.chat.locate import PUBLIC
from apps.chat.models import Channel, Message, Participant
from apps.records.models import AuditEntry
from tests.chat.conftest import create_channel, support_ticket

# (actor, action, expected status): the target of each action is player2.
MATRIX = [
    ("admin", "list", 200),
    ("team", "list", 200),
    ("player", "list", 200),
    ("super", "list", 200),
    ("globex_admin", "list", 403),
    ("admin", "get", 200),
    ("team", "get", 403),
    ("player", "get", 403),
    ("super", "get", 403),
    ("globex_admin", "get", 403),
    ("admin", "role", 200),
    ("team", "role", 403),
    ("player", "role", 403),
    ("super", "role", 403),
    ("globex_admin", "role", 403),
    ("admin", "suspend", 200),
    ("team", "suspend", 403),
    ("player", "suspend", 403),
    ("super", "suspend", 403),
    ("admin", "reactivate", 200),
    ("team", "reactivate", 403),
    ("player", "reactivate", 403),
    ("admin", "remove", 204),
    ("team", "remove", 403),
    ("player", "remove", 403),
    ("super", "remove", 403),
    ("globex_admin", "remove", 403),
    ("admin", "audit", 200),
    ("team", "audit", 403),
    ("player", "audit", 403),
    ("super", "audit", 403),
]


def _snapshot(tenant: Any) -> tuple[Any, ...]:
    return (
        sorted(Membership.objects.filter(tenant=tenant).values_list("user_id", "role", "status")),
        AuditEntry.objects.count(),
    )


@pytest.mark.parametrize(("actor", "action", "expected"), MATRIX)
def test_who_may_do_what_with_members(
    actor, action, expected, org, other_org, super_admin, client_for
):
    people = {
        "admin": org.admin,
        "team": org.team,
        "player": org.player,
        "super": super_admin,
        "globex_admin": other_org.admin,
    }
    target = org.player2
    if action == "reactivate":
        Membership.objects.filter(user=target, tenant=org.tenant).update(status="SUSPENDED")
    client = client_for(org.tenant, people[actor])
    base = f"/api/members/{target.id}"
    requests = {
        "list": ("get", "/api/members", None),
        "get": ("get", base, None),
        "role": ("patch", base, {"role": "MANAGEMENT_TEAM"}),
        "suspend": ("put", f"{base}/suspend", None),
        "reactivate": ("put", f"{base}/reactivate", None),
        "remove": ("delete", base, None),
        "audit": ("get", "/api/audit", None),
    }
    method, path, body = requests[action]
    before = _snapshot(org.tenant)

    response = getattr(client, method)(path, body, format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert _snapshot(org.tenant) == before
        assert "error" in response.json()


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [m["displayName"] for m in response.json()["members"]]


def test_each_role_sees_whom_it_should(org, client_for):
    Membership.objects.filter(user=org.player2, tenant=org.tenant).update(status="SUSPENDED")
    staff = {"acme admin", "acme team"}

    as_player = client_for(org.tenant, org.player).get("/api/members").json()["members"]
    assert {m["displayName"] for m in as_player} == staff
    assert all(m["email"] is None for m in as_player)

    as_team = client_for(org.tenant, org.team).get("/api/members").json()["members"]
    assert {m["displayName"] for m in as_team} == staff | {"acme player"}  # active only
    assert all(m["email"] is None for m in as_team)

    as_admin = client_for(org.tenant, org.admin).get("/api/members").json()["members"]
    assert {m["displayName"] for m in as_admin} == staff | {"acme player", "acme player2"}
    shown = {m["id"]: m for m in as_admin}
    assert shown[org.player2.id]["email"] == org.player2.email
    assert shown[org.player2.id]["status"] == "SUSPENDED"
    assert set(shown[org.admin.id]) == {"id", "displayName", "email", "role", "status", "joinedAt"}


def test_search_is_a_case_insensitive_prefix_and_emails_are_searched_for_admins_only(
    org, make_user, client_for
):
    make_user(org.tenant, Role.MANAGEMENT_TEAM, name="Zoë Quizmaster", email="zq@acme.test")
    admin = client_for(org.tenant, org.admin)
    player = client_for(org.tenant, org.player)

    assert _names(admin.get("/api/members", {"search": "zOË"})) == ["Zoë Quizmaster"]
    assert _names(admin.get("/api/members", {"search": "quizmaster"})) == []  # a prefix
    assert _names(admin.get("/api/members", {"search": "ZQ@"})) == ["Zoë Quizmaster"]
    assert _names(player.get("/api/members", {"search": "zoë"})) == ["Zoë Quizmaster"]
    # A participant cannot probe emails through the search.
    assert _names(player.get("/api/members", {"search": "zq@"})) == []
    assert _names(admin.get("/api/members", {"search": "%"})) == []  # no wildcard
    assert _names(admin.get("/api/members", {"role": "PARTICIPANT"})) == [
        "acme player",
        "acme player2",
    ]


def test_pages_follow_the_display_name_without_gaps_or_repeats(org, make_user, client_for):
    for name in ("bravo", "Alpha", "charlie", "alpha"):
        make_user(org.tenant, Role.PARTICIPANT, name=name)
    admin = client_for(org.tenant, org.admin)
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        body = admin.get("/api/members", params).json()
        assert len(body["members"]) <= 3
        seen += [m["displayName"] for m in body["members"]]
        after = body["next"]
        if after is None:
            break
    assert [n.lower() for n in seen] == sorted(n.lower() for n in seen)
    assert len(seen) == len(set(seen)) == 8
    assert abs(seen.index("Alpha") - seen.index("alpha")) == 1  # side by side, whatever the case


def test_admin_reads_and_changes_a_member(org, client_for):
    admin = client_for(org.tenant, org.admin)
    url = f"/api/members/{org.player.id}"

    member = admin.get(url).json()
    assert member["email"] == org.player.email and member["role"] == "PARTICIPANT"

    changed = admin.patch(url, {"role": "MANAGEMENT_TEAM"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "MANAGEMENT_TEAM"

    suspended = admin.put(f"{url}/suspend")
    assert suspended.json()["status"] == "SUSPENDED"
    assert admin.put(f"{url}/suspend").json()["error"]["code"] == "already_suspended"
    assert admin.put(f"{url}/reactivate").json()["status"] == "ACTIVE"
    assert admin.put(f"{url}/reactivate").json()["error"]["code"] == "not_suspended"

    assert admin.delete(url).status_code == 204
    assert not Membership.objects.filter(user=org.player, tenant=org.tenant).exists()
    assert admin.get(url).status_code == 404
    org.player.refresh_from_db()
    assert org.player.is_active  # the account stays


def test_a_suspended_member_is_refused_everywhere_until_reactivated(org, client_for):
    member = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    admin.put(f"/api/members/{org.player.id}/suspend")

    refused = member.get("/api/auth/me")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_a_member"
    assert member.get("/api/members").status_code == 403
    login = client_for(org.tenant).post(
        "/api/auth/login",
        {"email": org.player.email, "password": "correct-horse-42"},
        format="json",
    )
    assert login.status_code == 401

    admin.put(f"/api/members/{org.player.id}/reactivate")
    assert member.get("/api/auth/me").status_code == 200


def test_the_last_active_admin_stays(org, make_user, client_for):
    admin = client_for(org.tenant, org.admin)
    me = f"/api/members/{org.admin.id}"
    for method, path, body in (
        ("patch", me, {"role": "PARTICIPANT"}),
        ("put", f"{me}/suspend", None),
        ("delete", me, None),
    ):
        response = getattr(admin, method)(path, body, format="json")
        assert response.status_code == 409, (method, path)
        assert response.json()["error"]["code"] == "last_admin"
    assert Membership.objects.get(user=org.admin, tenant=org.tenant).role == "TENANT_ADMIN"

    # A suspended admin, or a deactivated account, is no second admin.
    suspended = make_user(org.tenant, Role.TENANT_ADMIN)
    Membership.objects.filter(user=suspended).update(status=MembershipStatus.SUSPENDED)
    gone = make_user(org.tenant, Role.TENANT_ADMIN)
    gone.is_active = False
    gone.save()
    assert admin.delete(me).json()["error"]["code"] == "last_admin"

    second = make_user(org.tenant, Role.TENANT_ADMIN)
    assert admin.patch(me, {"role": "MANAGEMENT_TEAM"}, format="json").status_code == 200
    other = client_for(org.tenant, second)
    assert other.delete(f"/api/members/{second.id}").json()["error"]["code"] == "last_admin"


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/api/members?limit=0", "get", None),
        ("/api/members?limit=101", "get", None),
        ("/api/members?role=KING", "get", None),
        ("/api/members?status=GONE", "get", None),
        ("/api/members?after=not-a-cursor", "get", None),
        ("/api/members?after=WyJhIiwgImIiXQ", "get", None),  # ["a", "b"]
        ("/api/members?search=a%00b", "get", None),
        ("/api/audit?before=0", "get", None),
        ("/api/audit?action=tenant.eaten", "get", None),
        ("/api/members/{player}", "patch", {"role": "SUPER_ADMIN"}),
        ("/api/members/{player}", "patch", {"role": None}),
        ("/api/members/{player}", "patch", {}),
        ("/api/members/{player}", "patch", ["TENANT_ADMIN"]),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(path, method, body, org, client_for):
    admin = client_for(org.tenant, org.admin)
    before = _snapshot(org.tenant)
    response = getattr(admin, method)(path.format(player=org.player.id), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert _snapshot(org.tenant) == before


@pytest.mark.parametrize("user_id", ["abc", "99999999999999999999", "0", "-1", "١"])
def test_ids_that_name_no_member_are_not_found(user_id, org, client_for):
    admin = client_for(org.tenant, org.admin)
    for method in ("get", "patch", "delete"):
        response = getattr(admin, method)(
            f"/api/members/{user_id}", {"role": "PARTICIPANT"}, format="json"
        )
        assert response.status_code == 404, (method, response.content)


def test_another_tenants_members_are_out_of_reach(org, other_org, client_for):
    acme_admin = client_for(org.tenant, org.admin)
    before = _snapshot(other_org.tenant)
    target = f"/api/members/{other_org.player.id}"
    assert acme_admin.get(target).status_code == 404
    assert acme_admin.patch(target, {"role": "TENANT_ADMIN"}, format="json").status_code == 404
    assert acme_admin.put(f"{target}/suspend").status_code == 404
    assert acme_admin.delete(target).status_code == 404
    listed = acme_admin.get("/api/members", {"search": "globex"}).json()["members"]
    assert listed == []
    # On globex's host the acme admin is nobody.
    on_globex = client_for(other_org.tenant, org.admin)
    assert on_globex.get("/api/members").status_code == 403
    assert on_globex.delete(target).status_code == 403
    assert _snapshot(other_org.tenant) == before


def test_members_are_listed_on_an_organisations_host_only(super_admin, public_tenant, client_for):
    response = client_for(public_tenant, super_admin).get("/api/members")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_host"


def _roles(schema: str, user: Any) -> dict[str, str]:
    with schema_context(schema):
        return {
            str(cid): role
            for cid, role in Participant.objects.filter(user=user).values_list("channel_id", "role")
        }


def test_a_new_tenant_admin_joins_every_support_channel_not_archived(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    open_cid = support_ticket(player)["id"]
    resolved_cid = support_ticket(player, subject="Done")["id"]
    admin.put(f"/api/chat/channels/{resolved_cid}/resolve")
    archived_cid = support_ticket(player, subject="Old")["id"]
    admin.delete(f"/api/chat/channels/{archived_cid}")
    player.post(f"/api/chat/channels/{open_cid}/messages", {"content": "hi"}, format="json")

    response = admin.patch(
        f"/api/members/{org.player2.id}", {"role": "TENANT_ADMIN"}, format="json"
    )

    assert response.status_code == 200
    roles = _roles("acme", org.player2)
    assert roles == {open_cid: "ADMIN", resolved_cid: "ADMIN"}
    promoted = client_for(org.tenant, org.player2)
    listed = promoted.get("/api/chat/channels?type=SUPPORT").json()["channels"]
    assert {c["id"] for c in listed} == {open_cid, resolved_cid}
    assert all(c["unreadCount"] == 0 for c in listed)  # caught up, not a backlog
    assert (
        promoted.post(
            f"/api/chat/channels/{open_cid}/messages", {"content": "on it"}, format="json"
        ).json()["senderType"]
        == "TENANT_ADMIN"
    )


def test_a_demoted_admin_keeps_only_what_the_new_role_allows(org, make_user, client_for):
    demoted = make_user(org.tenant, Role.TENANT_ADMIN, name="acme admin2")
    mine = client_for(org.tenant, demoted)
    admin = client_for(org.tenant, org.admin)
    theirs = support_ticket(client_for(org.tenant, org.player))["id"]
    own = support_ticket(mine, subject="My own request")["id"]
    team_cid = create_channel(admin, type="TEAM", participantIds=[demoted.id])["id"]
    cup = create_channel(admin, type="TOURNAMENT", contextId="cup-9")["id"]
    platform = create_channel(mine, type="PLATFORM_SUPPORT", subject="Billing")["id"]
    admin.put(f"/api/chat/channels/{theirs}/assign", {"assigneeId": demoted.id}, format="json")

    assert (
        admin.patch(
            f"/api/members/{demoted.id}", {"role": "MANAGEMENT_TEAM"}, format="json"
        ).status_code
        == 200
    )
    assert _roles("acme", demoted) == {
        theirs: "ADMIN",
        own: "ADMIN",
        team_cid: "MEMBER",
        cup: "ADMIN",
    }
    assert _roles(PUBLIC, demoted) == {}

    assert (
        admin.patch(
            f"/api/members/{demoted.id}", {"role": "PARTICIPANT"}, format="json"
        ).status_code
        == 200
    )
    assert _roles("acme", demoted) == {own: "MEMBER"}
    assert mine.get(f"/api/chat/channels/{theirs}").status_code == 404
    assert mine.get(f"/api/chat/channels/{team_cid}").status_code == 404
    with schema_context("acme"):
        assert Channel.objects.get(pk=theirs).assigned_to_id is None
    with schema_context(PUBLIC):
        assert Channel.objects.filter(pk=platform).exists()


def test_a_removed_member_leaves_every_channel_and_their_messages_stay(org, client_for):
    player = client_for(org.tenant, org.player)
    cid = support_ticket(player)["id"]
    player.post(f"/api/chat/channels/{cid}/messages", {"content": "keep me"}, format="json")

    admin = client_for(org.tenant, org.admin)
    assert admin.delete(f"/api/members/{org.player.id}").status_code == 204

    assert _roles("acme", org.player) == {}
    with schema_context("acme"):
        assert Message.objects.filter(channel_id=cid, content="keep me", sender=org.player).exists()


def test_membership_changes_are_audited_and_tenant_admins_read_their_own_log(
    org, other_org, client_for
):
    admin = client_for(org.tenant, org.admin)
    target = f"/api/members/{org.player.id}"
    admin.patch(target, {"role": "MANAGEMENT_TEAM"}, format="json")
    admin.put(f"{target}/suspend")
    admin.put(f"{target}/reactivate")
    admin.delete(target)
    client_for(other_org.tenant, other_org.admin).put(f"/api/members/{other_org.player.id}/suspend")

    body = admin.get("/api/audit").json()
    actions = [e["action"] for e in body["entries"]]
    assert actions == [
        "member.removed",
        "member.reactivated",
        "member.suspended",
        "member.role_changed",
    ]
    assert all(e["tenant"] == "acme" and e["actorId"] == org.admin.id for e in body["entries"])
    assert all(e["targetId"] == str(org.player.id) for e in body["entries"])
    assert body["entries"][-1]["details"]["from"] == "PARTICIPANT"
    assert body["entries"][-1]["details"]["to"] == "MANAGEMENT_TEAM"

    first = admin.get("/api/audit", {"limit": 3}).json()
    assert first["hasMore"] is True
    rest = admin.get("/api/audit", {"before": first["entries"][-1]["id"]}).json()
    assert [e["action"] for e in rest["entries"]] == ["member.role_changed"]
    assert rest["hasMore"] is False
    assert (
        admin.get("/api/audit", {"action": "member.suspended"}).json()["entries"][0]["action"]
        == "member.suspended"
    )

    globex = client_for(other_org.tenant, other_org.admin).get("/api/audit").json()["entries"]
    assert [e["action"] for e in globex] == ["member.suspended"]
    assert globex[0]["targetId"] == str(other_org.player.id)


def test_the_schema_documents_the_member_and_audit_endpoints():
    import io

    import yaml
    from django.core.management import call_command

    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]
    assert set(paths["/api/members"]) == {"get"}
    assert set(paths["/api/members/{user_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/members/{user_id}/suspend"]) == {"put"}
    assert set(paths["/api/members/{user_id}/reactivate"]) == {"put"}
    assert set(paths["/api/audit"]) == {"get"}
    listed = paths["/api/members"]["get"]
    names = {p["name"] for p in listed["parameters"]}
    assert names >= {"search", "role", "status", "after", "limit"}


def test_a_promotion_costs_the_same_queries_however_many_channels_it_joins(
    org, make_user, client_for
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)

    def promote_with(channels: int) -> int:
        for n in range(channels):
            cid = support_ticket(player, subject=f"Request {n}")["id"]
            player.post(f"/api/chat/channels/{cid}/messages", {"content": "hi"}, format="json")
        member = make_user(org.tenant, Role.PARTICIPANT)
        with CaptureQueriesContext(connection) as queries:
            response = admin.patch(
                f"/api/members/{member.id}", {"role": "TENANT_ADMIN"}, format="json"
            )
        assert response.status_code == 200
        with schema_context("acme"):
            assert len(_roles("acme", member)) == Channel.objects.filter(type="SUPPORT").count()
        return len(queries)

    assert promote_with(2) == promote_with(10)
