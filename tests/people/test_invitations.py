"""Invitations: sent by staff, mailed with a single-use link, accepted on the tenant's
host by a new or an existing account."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken, Invitation, Membership, Role, User
from apps.records.models import AuditEntry
from tests.conftest import PASSWORD
from tests.people.conftest import follow, links

NEW_PASSWORD = "plum-orchard-7391"


def invite(client: Any, email: str, role: str = "PARTICIPANT", **extra: Any) -> Any:
    return client.post("/api/invitations", {"email": email, "role": role, **extra}, format="json")


def accept(client: Any, token: str, **body: Any) -> Any:
    return client.post("/api/invitations/accept", {"token": token, **body}, format="json")


def snapshot() -> tuple[Any, ...]:
    return (
        sorted(User.objects.values_list("email", "is_active")),
        sorted(Membership.objects.values_list("user_id", "tenant_id", "role")),
        sorted(Invitation.objects.values_list("id", "accepted_at", "revoked_at", "token_hash")),
        ApiToken.objects.count(),
    )


@pytest.fixture
def admin(org: Any, client_for: Any) -> Any:
    return client_for(org.tenant, org.admin)


def test_invite_mail_link_accept_and_sign_in(org, admin, committed):
    response = invite(admin, "  New.Person@Example.TEST ", "MANAGEMENT_TEAM", displayName="Nell")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "new.person@example.test"
    assert body["role"] == "MANAGEMENT_TEAM"
    assert body["invitedBy"] == {"id": org.admin.id, "displayName": org.admin.display_name}
    stored = Invitation.objects.get(pk=body["id"])
    assert stored.expires_at - timezone.now() > timedelta(days=6, hours=23)

    [message] = committed.outbox()
    assert message.to == ["new.person@example.test"]
    assert message.subject == "acme admin invites you to Acme"
    assert "Acme as management team" in message.body
    assert message.alternatives[0][1] == "text/html"
    assert "<strong>Acme</strong>" in str(message.alternatives[0][0])
    text_link, html_link = links(message)
    assert text_link == html_link
    assert text_link.startswith("http://acme.localhost:8000/join?token=")
    token = text_link.split("token=")[1]
    assert token not in stored.token_hash and len(stored.token_hash) == 64

    client, token, opened = follow(text_link)
    assert opened.status_code == 200, opened.json()
    assert opened.json()["email"] == "new.person@example.test"
    assert opened.json()["tenant"]["slug"] == "acme"
    assert opened.json()["existingAccount"] is False

    accepted = accept(client, token, password=NEW_PASSWORD, HTTP_USER_AGENT="Firefox/1")
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["role"] == "MANAGEMENT_TEAM"
    assert accepted.json()["user"]["displayName"] == "Nell"
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {accepted.json()['token']}")
    assert client.get("/api/auth/me").json()["role"] == "MANAGEMENT_TEAM"
    login = client.post(
        "/api/auth/login",
        {"email": "NEW.PERSON@example.test", "password": NEW_PASSWORD},
        format="json",
    )
    assert login.status_code == 200
    assert accept(client, token, password=NEW_PASSWORD).json()["error"]["code"] == (
        "invitation_used"
    )
    actions = list(
        AuditEntry.objects.filter(tenant=org.tenant).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["invitation.sent", "invitation.accepted"]


def test_existing_account_joins_with_its_password(org, other_org, client_for, committed):
    person = other_org.player  # a globex participant, invited to acme
    response = invite(client_for(org.tenant, org.admin), person.email.upper())
    assert response.status_code == 201
    client, token, opened = follow(links(committed.outbox()[0])[0])
    assert opened.json()["existingAccount"] is True
    before = snapshot()

    for wrong in ({}, {"password": "not-it-at-all"}):
        refused = accept(client, token, **wrong)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_credentials"
    assert snapshot() == before

    accepted = accept(client, token, password=PASSWORD, displayName="Ignored")
    assert accepted.status_code == 200
    assert accepted.json()["user"]["id"] == person.id
    assert accepted.json()["user"]["displayName"] == person.display_name
    assert Membership.objects.get(user=person, tenant=org.tenant).role == Role.PARTICIPANT
    assert Membership.objects.get(user=person, tenant=other_org.tenant).role == Role.PARTICIPANT


def test_inviting_a_member_is_409_already_member(org, admin):
    before = snapshot()
    response = invite(admin, f" {org.team.email.upper()} ")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_member"
    assert snapshot() == before


def test_inviting_again_returns_the_same_invitation_and_mails_a_fresh_link(
    org, admin, client_for, committed
):
    first = invite(admin, "twice@example.test")
    again = invite(client_for(org.tenant, org.team), "TWICE@example.test")

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Invitation.objects.count() == 1
    old, new = (links(m)[0] for m in committed.outbox())
    assert old != new
    client, old_token, opened = follow(old)
    assert opened.status_code == 400 and opened.json()["error"]["code"] == "invitation_invalid"
    _, new_token, _ = follow(new)
    assert accept(client, new_token, password=NEW_PASSWORD, displayName="Twice").status_code == 200


def test_a_pending_invitation_in_another_role_is_409_until_revoked(org, admin):
    invite(admin, "role@example.test", "PARTICIPANT")
    before = snapshot()
    response = invite(admin, "role@example.test", "TENANT_ADMIN")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invitation_pending"
    assert snapshot() == before


def test_an_expired_invitation_is_renewed_in_the_new_role(org, admin, committed):
    first = invite(admin, "late@example.test", "PARTICIPANT").json()
    Invitation.objects.filter(pk=first["id"]).update(expires_at=timezone.now())
    renewed = invite(admin, "late@example.test", "MANAGEMENT_TEAM")
    assert renewed.status_code == 200
    assert renewed.json()["id"] == first["id"]
    assert renewed.json()["role"] == "MANAGEMENT_TEAM"
    client, token, _ = follow(links(committed.outbox()[-1])[0])
    accepted = accept(client, token, password=NEW_PASSWORD, displayName="Late")
    assert accepted.json()["role"] == "MANAGEMENT_TEAM"


def test_list_shows_pending_only_and_revoke_kills_the_link(org, admin, committed):
    kept = invite(admin, "kept@example.test").json()
    gone = invite(admin, "gone@example.test").json()
    invite(admin, "used@example.test")
    old = invite(admin, "old@example.test").json()
    Invitation.objects.filter(pk=old["id"]).update(expires_at=timezone.now())
    mails = {m.to[0]: links(m)[0] for m in committed.outbox()}
    client, token, _ = follow(mails["used@example.test"])
    accept(client, token, password=NEW_PASSWORD, displayName="Used")

    assert admin.delete(f"/api/invitations/{gone['id']}").status_code == 204
    listed = admin.get("/api/invitations").json()["invitations"]

    assert [i["id"] for i in listed] == [kept["id"]]
    _, token, opened = follow(mails["gone@example.test"])
    assert opened.json()["error"]["code"] == "invitation_revoked"
    before = snapshot()
    assert accept(client, token, password=NEW_PASSWORD).json()["error"]["code"] == (
        "invitation_revoked"
    )
    again = admin.delete(f"/api/invitations/{gone['id']}")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invitation_not_pending"
    assert snapshot() == before
    entry = AuditEntry.objects.get(action="invitation.revoked")
    assert (entry.tenant, entry.actor, entry.target_id) == (org.tenant, org.admin, str(gone["id"]))


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong", "invitation_invalid"),
        ("expired", "invitation_expired"),
        ("used", "invitation_used"),
        ("revoked", "invitation_revoked"),
        ("other_host", "invitation_other_host"),
        ("console_host", "invitation_other_host"),
    ],
)
def test_unusable_tokens_are_refused_and_change_nothing(
    case, code, org, admin, client_for, public_tenant, other_org, committed
):
    invitation = invite(admin, "who@example.test").json()
    client, token, _ = follow(links(committed.outbox()[0])[0])
    if case == "wrong":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif case == "expired":
        Invitation.objects.filter(pk=invitation["id"]).update(expires_at=timezone.now())
    elif case == "used":
        Invitation.objects.filter(pk=invitation["id"]).update(accepted_at=timezone.now())
    elif case == "revoked":
        Invitation.objects.filter(pk=invitation["id"]).update(revoked_at=timezone.now())
    elif case == "other_host":
        client = client_for(other_org.tenant)  # acme's token on globex's host
    else:
        client = client_for(public_tenant)
    before = snapshot()

    response = accept(client, token, password=NEW_PASSWORD, displayName="Who")
    shown = client.get(f"/api/invitations/accept?token={token}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert shown.json()["error"]["code"] == code
    assert snapshot() == before
    assert not User.objects.filter(email="who@example.test").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),  # a common password
        ({"password": "12345678901"}, "password"),  # entirely numeric
        ({"password": "who@example.test"}, "password"),  # like the email
        ({}, "password"),
        ({"password": NEW_PASSWORD, "displayName": "   "}, "displayName"),
        ({"password": 12345678}, "password"),
        ({"password": NEW_PASSWORD, "displayName": "x" * 151}, "displayName"),
    ],
)
def test_bad_accept_input_changes_nothing(body, field, org, admin, committed):
    invite(admin, "who@example.test")  # no display name: the accepter must give one
    client, token, _ = follow(links(committed.outbox()[0])[0])
    before = snapshot()

    response = accept(client, token, **{"displayName": "Who", **body})

    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "role": "PARTICIPANT"},
        {"email": "a@example.test", "role": "SUPER_ADMIN"},
        {"email": "a@example.test"},
        {"role": "PARTICIPANT"},
        {"email": ["a@example.test"], "role": "PARTICIPANT"},
        {"email": "a@example.test", "role": "PARTICIPANT", "displayName": 7},
    ],
)
def test_bad_invitation_input_changes_nothing(body, admin, committed):
    before = snapshot()
    response = admin.post("/api/invitations", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert snapshot() == before
    assert committed.outbox() == []


def test_acme_staff_cannot_see_or_revoke_globex_invitations(org, other_org, client_for):
    theirs = invite(client_for(other_org.tenant, other_org.admin), "g@example.test").json()
    acme_admin, acme_admin_on_globex = (
        client_for(t, org.admin) for t in (org.tenant, other_org.tenant)
    )
    before = snapshot()

    listed = acme_admin.get("/api/invitations").json()["invitations"]
    revoked = acme_admin.delete(f"/api/invitations/{theirs['id']}")
    on_their_host = acme_admin_on_globex.get("/api/invitations")

    assert listed == []
    assert revoked.status_code == 404
    assert on_their_host.status_code == 403
    assert snapshot() == before


def test_a_mail_that_cannot_be_sent_is_logged_and_the_invitation_stands(
    admin, committed, settings, caplog
):
    settings.EMAIL_BACKEND = "tests.people.test_invitations.BrokenBackend"
    with caplog.at_level(logging.ERROR, logger="apps.people.mail"):
        response = invite(admin, "lost@example.test")
        committed.run()
    assert response.status_code == 201
    assert Invitation.objects.filter(email="lost@example.test").exists()
    assert "Could not send the invitation mail to lost@example.test" in caplog.text


def test_no_mail_for_an_invitation_that_rolled_back(org, admin, committed, monkeypatch):
    from apps.records import audit

    def fail(**kwargs: Any) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(audit, "record", fail)
    response = invite(admin, "never@example.test")
    assert response.status_code == 500
    assert committed.outbox() == []
    assert not Invitation.objects.filter(email="never@example.test").exists()


class BrokenBackend:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("no mail server")


def test_names_are_escaped_in_the_html_part_only(org, make_user, client_for, committed):
    inviter = make_user(org.tenant, Role.TENANT_ADMIN, name="<b>Bold</b> & Co")
    invite(client_for(org.tenant, inviter), "html@example.test", displayName="O'Neil")
    [message] = committed.outbox()
    html = str(message.alternatives[0][0])
    assert "<b>Bold</b> & Co invites you" in message.body
    assert "Hello O'Neil," in message.body
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co invites you" in html
    assert "<b>Bold</b>" not in html


def test_a_deactivated_account_cannot_accept(org, other_org, admin, committed):
    User.objects.filter(pk=other_org.player.pk).update(is_active=False)
    invite(admin, other_org.player.email)
    client, token, _ = follow(links(committed.outbox()[0])[0])
    before = snapshot()
    response = accept(client, token, password=PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_deactivated"
    assert snapshot() == before


def test_an_invited_tenant_admin_joins_the_open_support_tickets(org, admin, client_for, committed):
    from tests.chat.conftest import support_ticket

    ticket = support_ticket(client_for(org.tenant, org.player))
    assert invite(admin, "second.admin@example.test", "TENANT_ADMIN").status_code == 201
    [message] = committed.outbox()
    client, token, _opened = follow(links(message)[0])

    accepted = accept(client, token, password=NEW_PASSWORD, displayName="Second Admin")
    assert accepted.status_code == 200, accepted.json()
    committed.run()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {accepted.json()['token']}")
    assert client.get(f"/api/chat/channels/{ticket['id']}").json()["myRole"] == "ADMIN"
