"""The people screens in headless Chromium against a real server: an admin invites, the
invitee follows the mailed link and joins; a forgotten password is reset from the mailed
link; the members screen changes roles and shows the last-admin refusal; tickets are
assigned with the picker; the account screen changes the password and ends sessions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Invitation, Role, User
from apps.accounts.services import membership_set, user_create
from apps.tenancy.models import Tenant
from tests.web.conftest import (
    PASSWORD,
    PHONE,
    Mailbox,
    People,
    Rest,
    _person,
    shot,
    sign_in,
)

ACME = "acme.localhost"
GLOBEX = "globex.localhost"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crowd(people: People, django_db_blocker: Any) -> Iterator[None]:
    """More participants than one page of the members screen holds (25)."""
    with django_db_blocker.unblock():
        acme = Tenant.objects.get(schema_name="acme")
        for n in range(1, 28):
            user = user_create(
                email=f"crowd-{n:02}-web@acme.test",
                password="crowd-pass-123",
                display_name=f"Crowd Member {n:02}",
            )
            membership_set(user=user, tenant=acme, role=Role.PARTICIPANT)
        yield
        User.objects.filter(email__startswith="crowd-", email__endswith="-web@acme.test").delete()


@pytest.fixture(scope="module")
def outsider(people: People, django_db_blocker: Any) -> Iterator[User]:
    """Someone with an account (at globex) whom acme invites."""
    with django_db_blocker.unblock():
        globex = Tenant.objects.get(schema_name="globex")
        user = _person("olly-web@globex.test", "Olly Other", globex, Role.PARTICIPANT)
        yield user
        Invitation.objects.filter(email=user.email).delete()
        user.delete()


def _confirm(page: Any) -> None:
    dialog = page.locator("dialog[open]")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_have_count(0)


def _sign_in_as(page: Any, email: str, password: str) -> None:
    page.fill("#login-email", email)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#session-bar:not([hidden])")


def test_an_admin_invites_and_the_invitee_joins_from_the_mailed_link(
    open_page, people: People, mailbox: Mailbox
):
    admin = open_page(ACME, people.admin)
    admin.get_by_role("link", name="Invitations").click()
    expect(admin.get_by_role("heading", name="Invite someone")).to_be_focused()
    sent = time.time()
    admin.fill("#invite-email", "Robin-Web@Example.test")
    admin.fill("#invite-name", "Robin Web")
    admin.click("#invite-form button[type=submit]")
    expect(admin.locator(".toast")).to_contain_text("Invitation sent to robin-web@example.test")
    row = admin.locator("tr", has_text="robin-web@example.test")
    expect(row).to_contain_text("Participant")
    expect(row).to_contain_text("Ada Admin")

    # The same address in another role is refused, and the page says why.
    admin.fill("#invite-email", "robin-web@example.test")
    admin.select_option("#invite-role", "MANAGEMENT_TEAM")
    admin.click("#invite-form button[type=submit]")
    expect(admin.locator("#invite-error")).to_contain_text("invitation_pending")
    expect(admin.locator("#invite-error")).to_contain_text("Revoke the pending invitation first")
    shot(admin, "invitations-desktop", notices=False)

    # Resend: a fresh link; the first one stops working.
    first = mailbox.link_to("robin-web@example.test", after=sent)
    resent = time.time()
    row.get_by_role("button", name="Resend").click()
    expect(admin.locator(".toast", has_text="mailed again")).to_be_visible()
    link = mailbox.link_to("robin-web@example.test", after=resent)
    assert link != first and "/join?token=" in link

    stale = open_page(ACME, path=first[first.index("/join") :])
    expect(stale.locator("#access-state")).to_contain_text("cannot be used")

    # Another organisation's host does not take it.
    elsewhere = open_page(GLOBEX, path=link[link.index("/join") :])
    expect(elsewhere.locator("#access-state")).to_contain_text("another organisation")

    robin = open_page(ACME, path=link[link.index("/join") :])
    expect(robin.locator("#join-summary")).to_contain_text("invited to Acme as participant")
    expect(robin.locator("#join-email")).to_have_value("robin-web@example.test")
    expect(robin.locator("#join-name")).to_have_value("Robin Web")
    robin.fill("#join-password", "robin-first-pass-31")
    robin.fill("#join-password2", "robin-first-pass-31")
    shot(robin, "join-desktop")
    robin.fill("#join-password2", "robin-first-pass-3")
    robin.click("#join-form button[type=submit]")
    expect(robin.locator("#join-error")).to_contain_text("The two passwords differ")
    robin.fill("#join-password2", "robin-first-pass-31")
    robin.click("#join-form button[type=submit]")
    # Accepted: signed in, in the app.
    robin.wait_for_selector("#session-bar:not([hidden])")
    expect(robin.locator("#whoami")).to_contain_text("Robin Web · Participant")
    # A participant has no members or invitations screens.
    expect(robin.locator("#nav-members")).to_be_hidden()
    expect(robin.locator("#nav-invitations")).to_be_hidden()

    # The link is spent; the new member signs in again with the chosen password.
    robin.click("#logout")
    _sign_in_as(robin, "robin-web@example.test", "robin-first-pass-31")
    robin.goto(link)
    expect(robin.locator("#access-state")).to_contain_text("already accepted")

    admin.reload()
    admin.wait_for_selector("#session-bar:not([hidden])")
    expect(admin.get_by_role("heading", name="Pending invitations")).to_be_visible()
    expect(admin.locator("tr", has_text="robin-web@example.test")).to_have_count(0)

    # Revoke: the link of a revoked invitation says so.
    sent = time.time()
    admin.fill("#invite-email", "quinn-web@example.test")
    admin.click("#invite-form button[type=submit]")
    quinn_row = admin.locator("tr", has_text="quinn-web@example.test")
    expect(quinn_row).to_be_visible()
    quinn_link = mailbox.link_to("quinn-web@example.test", after=sent)
    quinn_row.get_by_role("button", name="Revoke").click()
    _confirm(admin)
    expect(quinn_row).to_have_count(0)
    quinn = open_page(ACME, path=quinn_link[quinn_link.index("/join") :])
    expect(quinn.locator("#access-state")).to_contain_text("withdrawn")
    admin.set_viewport_size(PHONE)
    shot(admin, "invitations-phone", notices=False)


def test_someone_with_an_account_joins_with_its_password(
    open_page, people: People, rest: Rest, mailbox: Mailbox, outsider: User
):
    admin = rest.login(ACME, people.admin)
    sent = time.time()
    rest.call(
        ACME, "POST", "/api/invitations", {"email": outsider.email, "role": "PARTICIPANT"}, admin
    )
    link = mailbox.link_to(outsider.email, after=sent)
    page = open_page(ACME, path=link[link.index("/join") :])
    expect(page.locator("#join-existing")).to_contain_text("You already have an account")
    expect(page.locator("#join-new")).to_be_hidden()
    page.fill("#join-current", "not-the-password-1")
    page.click("#join-form button[type=submit]")
    expect(page.locator("#join-error")).to_be_visible()
    page.fill("#join-current", PASSWORD)
    page.click("#join-form button[type=submit]")
    page.wait_for_selector("#session-bar:not([hidden])")
    expect(page.locator("#whoami")).to_contain_text("Olly Other · Participant")


def test_the_account_screen_changes_the_password_and_ends_other_sessions(
    open_page, people: People, rest: Rest
):
    """Before the reset test, which sets the same person's password from a mailed link."""
    # Another session of the same person (a login through the API).
    other = rest.call(
        ACME,
        "POST",
        "/api/auth/login",
        {"email": people.forgetful.email, "password": PASSWORD},
    )
    page = open_page(ACME)
    sign_in(page, people.forgetful)
    page.get_by_role("link", name="Account").click()
    sessions = page.locator("tr[data-session]")
    expect(sessions).to_have_count(2)
    expect(page.locator("tr", has_text="This session")).to_contain_text("Headless Chrome on Linux")
    expect(page.locator("tr", has_text="This session")).to_have_count(1)
    page.locator("tr[data-session]:not(:has-text('This session'))").get_by_role("button").click()
    expect(sessions).to_have_count(1)
    assert other["token"]

    page.fill("#password-current", "wrong-one-123")
    page.fill("#password-new", "fay-another-pass-55")
    page.fill("#password-again", "fay-another-pass-55")
    page.click("#password-form button[type=submit]")
    expect(page.locator("#password-error")).to_contain_text("The current password is not right")
    page.fill("#password-current", PASSWORD)
    page.click("#password-form button[type=submit]")
    expect(page.locator(".toast", has_text="Password changed")).to_be_visible()
    shot(page, "account-desktop", notices=False)
    page.click("#logout")
    _sign_in_as(page, people.forgetful.email, "fay-another-pass-55")


def test_a_forgotten_password_is_reset_from_the_mailed_link(
    open_page, people: People, mailbox: Mailbox
):
    page = open_page(ACME)
    page.fill("#login-email", people.forgetful.email)
    asked = time.time()
    page.get_by_role("button", name="Forgot your password?").click()
    expect(page.locator("#ask-input")).to_have_value(people.forgetful.email)
    _confirm(page)
    expect(page.locator(".toast")).to_contain_text("a link is on its way")
    link = mailbox.link_to(people.forgetful.email, after=asked)
    assert "/reset-password?token=" in link

    page.goto(link)
    expect(page.locator("#reset-summary")).to_contain_text(people.forgetful.email)
    page.fill("#reset-password", "short")
    page.fill("#reset-password2", "short")
    page.click("#reset-form button[type=submit]")
    # Django's validators answer under the field.
    expect(page.locator("#reset-error")).to_contain_text("too short")
    page.fill("#reset-password", "fay-new-pass-77")
    page.fill("#reset-password2", "fay-new-pass-77")
    shot(page, "reset-desktop")
    page.click("#reset-form button[type=submit]")
    expect(page.locator("#access-state")).to_contain_text("Your password is set")
    page.get_by_role("link", name="Go to sign-in").click()
    _sign_in_as(page, people.forgetful.email, "fay-new-pass-77")
    expect(page.locator("#whoami")).to_contain_text("Fay Forgetful")
    # The link works once.
    page.goto(link)
    expect(page.locator("#access-state")).to_contain_text("already used")


def test_the_members_screen_changes_roles_and_shows_the_last_admin_refusal(
    open_page, people: People
):
    admin = open_page(ACME, people.admin)
    admin.get_by_role("link", name="Members").click()
    table = admin.locator("#members-table")
    expect(table).to_contain_text("Pat Player")
    expect(table).to_contain_text(people.player.email)

    admin.fill("#members-search", "Pat")
    expect(table.locator("tbody tr")).to_have_count(1)
    role = admin.get_by_label("Role of Pat Player")
    role.select_option("MANAGEMENT_TEAM")
    admin.locator("dialog[open]").get_by_role("button", name="Cancel").click()
    expect(role).to_have_value("PARTICIPANT")
    role.select_option("MANAGEMENT_TEAM")
    _confirm(admin)
    expect(admin.locator(".toast", has_text="Pat Player is now management team")).to_be_visible()
    role.select_option("PARTICIPANT")
    _confirm(admin)
    expect(admin.locator(".toast", has_text="Pat Player is now participant")).to_be_visible()

    admin.get_by_role("button", name="Suspend Pat Player").click()
    _confirm(admin)
    expect(table.locator("tr", has_text="Pat Player")).to_contain_text("Suspended")
    admin.get_by_role("button", name="Reactivate Pat Player").click()
    expect(table.locator("tr", has_text="Pat Player")).to_contain_text("Active")

    # The organisation's only tenant admin cannot step down: the refusal is shown, and
    # the role shown stays the real one.
    admin.fill("#members-search", "Ada")
    expect(table.locator("tbody tr")).to_have_count(1)
    mine = admin.get_by_label("Role of Ada Admin")
    mine.select_option("PARTICIPANT")
    _confirm(admin)
    error = admin.locator("#members-error")
    expect(error).to_contain_text("409 last_admin")
    expect(error).to_contain_text("Make someone else a tenant admin first")
    expect(admin.get_by_label("Role of Ada Admin")).to_have_value("TENANT_ADMIN")
    admin.get_by_role("button", name="Remove Ada Admin").click()
    _confirm(admin)
    expect(error).to_contain_text("last_admin")
    admin.fill("#members-search", "")
    expect(table).to_contain_text("Mia Manager")
    shot(admin, "members-desktop", notices=False)
    admin.set_viewport_size(PHONE)
    shot(admin, "members-phone", notices=False)

    # Another organisation's admin sees only their own members.
    globex = open_page(GLOBEX, people.globex_admin)
    globex.get_by_role("link", name="Members").click()
    expect(globex.locator("#members-table")).to_contain_text("Gus Globex")
    expect(globex.locator("#members-table")).not_to_contain_text("Pat Player")

    # The management team sees the list without the admin's controls.
    manager = open_page(ACME, people.manager)
    manager.get_by_role("link", name="Members").click()
    expect(manager.locator("#members-table")).to_contain_text("Pat Player")
    expect(manager.locator("#members-table select")).to_have_count(0)
    expect(manager.get_by_role("button", name="Remove Pat Player")).to_have_count(0)
    expect(manager.locator("#members-table")).not_to_contain_text(people.player.email)
    # ... and invites participants only.
    manager.get_by_role("link", name="Invitations").click()
    expect(manager.locator("#invite-role option")).to_have_text(["Participant"])


def test_the_members_screen_pages_by_keyset_and_filters(open_page, people: People, crowd: None):
    admin = open_page(ACME, people.admin, path="/#/members")
    rows = admin.locator("#members-table tbody tr")
    admin.fill("#members-search", "Crowd")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("Crowd Member 01")
    admin.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(27)
    expect(rows.last).to_contain_text("Crowd Member 27")
    expect(admin.get_by_role("button", name="Show more")).to_be_hidden()
    admin.select_option("#members-role", "MANAGEMENT_TEAM")
    admin.fill("#members-search", "")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Mia Manager")
    admin.fill("#members-search", "nobody-matches")
    expect(admin.locator("#people-view")).to_contain_text("No members match.")


def test_a_ticket_is_assigned_with_the_picker_among_the_staff(
    open_page, people: People, rest: Rest
):
    player = rest.login(ACME, people.player)
    channel = rest.call(
        ACME, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "Picker check"}, player
    )
    admin = open_page(ACME, people.admin, path=f"/#/c/{channel['id']}")
    expect(admin.locator("#thread-subject")).to_have_text("Picker check")
    admin.get_by_role("button", name="Assign").click()
    options = admin.locator("#assignee-options")
    expect(options).to_contain_text("Ada Admin")
    expect(options).to_contain_text("Mia Manager")
    expect(options).not_to_contain_text("Pat Player")  # participants cannot be assigned
    admin.fill("#assignee-search", "Mia")
    expect(options.locator("label")).to_have_count(1)
    # By keyboard: the radio, then the Assign button.
    admin.keyboard.press("Tab")
    admin.keyboard.press("Space")
    shot(admin, "assign-picker")
    admin.locator("dialog[open] button[type=submit]").click()
    expect(admin.locator("#thread-meta")).to_contain_text("Assigned to Mia Manager")


def test_the_console_has_the_account_screen_and_a_forgotten_password_link(
    open_page, people: People
):
    console = open_page("localhost", people.super_admin, path="/#/account")
    expect(console.get_by_role("heading", name="Where you are signed in")).to_be_visible()
    expect(console.locator("tr", has_text="This session")).to_have_count(1)
    expect(console.locator("#nav a[aria-current=page]")).to_have_text("Account")
    signed_out = open_page("localhost")
    expect(signed_out.get_by_role("button", name="Forgot your password?")).to_be_visible()
