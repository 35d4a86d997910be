"""The support desk in the browser: a note the requester never sees, a canned response
picked and sent, the requester's rating after resolve, and the admin's reports."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import People, Rest, shot

pytestmark = pytest.mark.slow  # a server and a browser of their own

ACME = "acme.localhost"


def _open(page: Any, subject: str) -> None:
    page.locator("#channel-list a", has_text=subject).click()
    expect(page.locator("#thread-subject")).to_have_text(subject)


def _send(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def test_notes_canned_responses_rating_and_reports(open_page, people: People, rest: Rest):
    player_token = rest.login(ACME, people.player)
    admin_token = rest.login(ACME, people.admin)
    rest.call(
        ACME,
        "POST",
        "/api/canned-responses",
        {
            "shortcut": "refund-web",
            "title": "Refund on its way",
            "body": "Hi {requester.name}, {agent.name} here: {ticket.subject} is done.",
        },
        admin_token,
    )
    rest.call(
        ACME,
        "POST",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "Refund please"},
        player_token,
    )
    admin = open_page(ACME, people.admin)
    player = open_page(ACME, people.player)
    syncs: list[str] = []
    player.on(
        "websocket",
        lambda ws: ws.on(
            "framesent", lambda frame: syncs.append(frame) if '"sync"' in str(frame) else None
        ),
    )
    player.reload()  # its socket opens again, now watched
    player.wait_for_selector("#session-bar:not([hidden])")
    _open(admin, "Refund please")
    _open(player, "Refund please")
    expect(player.locator("#connection")).to_have_text("Live")
    player.wait_for_timeout(300)  # the join's own catch-up
    syncs.clear()

    # The requester has no note switch nor canned responses.
    expect(player.locator("#composer-tools")).to_be_hidden()
    admin.check("#note-toggle")
    _send(admin, "Second refund this month, check the account")
    expect(admin.locator(".msg-note .msg-body")).to_have_text(
        "Second refund this month, check the account"
    )
    admin.uncheck("#note-toggle")
    _send(admin, "Looking into it")
    expect(player.locator(".msg-body").last).to_have_text("Looking into it")
    expect(player.get_by_text("Second refund this month")).to_have_count(0)
    expect(player.locator(".msg-note")).to_have_count(0)
    # The note's place in `seq` is no lost event for the requester: no catch-up asked.
    assert syncs == []
    shot(admin, "desk-note")

    admin.click("#canned-open")
    # Tenant admins save new ones in the picker; a bad placeholder is refused there.
    admin.fill("#canned-shortcut", "thanks-web")
    admin.fill("#canned-title-input", "Thanks")
    admin.fill("#canned-body", "Thanks {requester.email}")
    admin.locator("#canned-new button[type=submit]").click()
    expect(admin.locator("#canned-error")).to_contain_text("Unknown placeholder")
    admin.fill("#canned-body", "Thanks, {requester.name}!")
    admin.locator("#canned-new button[type=submit]").click()
    expect(admin.locator("#canned-list button", has_text="Thanks")).to_be_visible()
    admin.fill("#canned-search", "refund")
    expect(admin.locator("#canned-list button")).to_have_count(1)
    admin.locator("#canned-list button", has_text="Refund on its way").click()
    rendered = "Hi Pat Player, Ada Admin here: Refund please is done."
    expect(player.locator(".msg-body").last).to_have_text(rendered)
    expect(admin.locator(".msg-body").last).to_have_text(rendered)

    expect(player.locator("#rating-form")).to_be_hidden()
    admin.get_by_role("button", name="Resolve").click()
    expect(player.locator("#rating-form")).to_be_visible()
    player.locator("#rating-form").get_by_label("4").check()
    player.fill("#rating-comment", "Quick, thanks")
    player.locator("#rating-form button[type=submit]").click()
    expect(player.locator("#rating-form")).to_be_hidden()
    expect(admin.locator("#thread-meta")).to_contain_text("Rated 4/5")
    shot(player, "desk-rated")

    admin.click("#reports-open")
    admin.select_option("#reports-group", "priority")
    admin.locator("#reports-form button[type=submit]").click()
    totals = admin.locator("#reports-totals")
    expect(totals).to_contain_text("Opened")
    expect(totals).to_contain_text("4.0 / 5")
    expect(admin.locator("#reports-chart .chart-row").first).to_be_visible()
    shot(admin, "desk-reports")
    assert player.locator("#reports-open").is_hidden()

    # The console: every tenant's desk from the rollups, and the platform's tickets.
    console = open_page("localhost", people.super_admin)
    console.click("#nav a[data-view=reports]")
    expect(console.locator(".panel h2", has_text="Every tenant")).to_be_visible()
    console.select_option("#report-group", "tenant")
    console.locator(".report-form button[type=submit]").click()
    expect(console.locator(".reports-out svg").first).to_contain_text("acme")
    shot(console, "console-reports")


def test_the_console_answers_a_platform_ticket_with_a_note_and_a_canned_response(
    open_page, people: People, rest: Rest
):
    admin_token = rest.login(ACME, people.admin)
    super_token = rest.login("localhost", people.super_admin)
    rest.call(
        "localhost",
        "POST",
        "/api/canned-responses",
        {"shortcut": "invoice-web", "title": "Invoice sent", "body": "{requester.name}: sent."},
        super_token,
    )
    ticket = rest.call(
        ACME,
        "POST",
        "/api/chat/channels",
        {"type": "PLATFORM_SUPPORT", "subject": "Invoice copy"},
        admin_token,
    )
    admin = open_page(ACME, people.admin)
    _open(admin, "Invoice copy")
    expect(admin.locator("#composer-tools")).to_be_hidden()  # the asker, not the staff

    console = open_page("localhost", people.super_admin)
    console.evaluate(f"location.hash = '#/ticket/{ticket['id']}'")
    expect(console.locator(".thread-title h2")).to_have_text("Invoice copy")
    console.locator(".note-check").check()
    console.fill("#composer-input", "Billing system shows two accounts")
    console.press("#composer-input", "Enter")
    expect(console.locator(".msg-note .msg-body")).to_have_text("Billing system shows two accounts")
    console.locator(".note-check").uncheck()
    console.select_option(".canned-picker", label="/invoice-web · Invoice sent")
    expect(admin.locator(".msg-body").last).to_have_text("Ada Admin: sent.")
    expect(admin.get_by_text("Billing system shows two accounts")).to_have_count(0)
    shot(console, "console-platform-note")
