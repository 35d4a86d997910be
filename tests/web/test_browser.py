"""The web client in headless Chromium against a real server: people chat live, open,
assign and escalate a ticket, a super admin answers from the console, badges move,
a dropped socket catches up, the console runs a tenant's lifecycle, and one tenant's
session sees nothing of another's."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PHONE, People, Rest, shot, sign_in

ACME = "acme.localhost"
GLOBEX = "globex.localhost"

pytestmark = pytest.mark.slow  # a server and a browser of their own


def _open_ticket_in_dialog(page: Any, subject: str, add: str | None = None) -> None:
    page.click("#new-ticket")
    page.fill("#ticket-subject", subject)
    if add is not None:  # one of the organisation's staff, from the members list
        page.locator("#ticket-people").get_by_label(add).check()
    page.select_option("#ticket-category", "TOURNAMENT_ISSUE")
    page.select_option("#ticket-priority", "HIGH")
    page.click("#ticket-form button[type=submit]")
    expect(page.locator("#thread-subject")).to_have_text(subject)


def _send(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def _answer(page: Any, value: str | None = None) -> None:
    """Fills and confirms the page's open question dialog."""
    dialog = page.locator("dialog[open]")
    if value is not None:
        dialog.locator("#ask-input").fill(value)
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_have_count(0)


def test_live_chat_ticket_escalation_and_the_platform_answer(open_page, people: People):
    player = open_page(ACME, people.player, sign_in_form=True)
    admin = open_page(ACME, people.admin)
    console = open_page("localhost", people.super_admin)
    expect(console.locator(".figures")).to_be_visible()

    _open_ticket_in_dialog(player, "Scores vanished", add="Ada Admin")
    # The admin joined the new ticket: it appears in their list without a reload.
    admin.locator("#channel-list a", has_text="Scores vanished").click()
    expect(admin.locator("#thread-subject")).to_have_text("Scores vanished")

    hostile = "<script>window.pwned = 1</script><b>bold?</b>"
    _send(player, hostile)
    expect(admin.locator(".msg-body").last).to_have_text(hostile)
    assert admin.evaluate("window.pwned") is None
    assert admin.locator(".msg-body b").count() == 0

    admin.fill("#composer-input", "Looking")
    admin.type("#composer-input", " into it")
    expect(player.locator(".typing")).to_have_text("Ada Admin is typing…")
    admin.press("#composer-input", "Enter")
    expect(player.locator(".msg-body").last).to_have_text("Looking into it")
    expect(player.locator(".typing")).to_have_text("")
    expect(admin.locator(".receipts")).to_contain_text("Seen by Pat Player")

    # Only staff get ticket actions.
    expect(player.locator("#ticket-actions button")).to_have_count(0)
    admin.get_by_role("button", name="Assign").click()
    admin.locator("#assignee-options").get_by_label("Ada Admin").check()
    admin.locator("dialog[open] button[type=submit]").click()
    expect(admin.locator("#thread-meta")).to_contain_text("Assigned to Ada Admin")
    expect(player.locator(".msg-system").last).to_contain_text("Ada Admin")
    shot(admin, "app-desktop", notices=False)

    admin.get_by_role("button", name="Escalate").click()
    _answer(admin, "Scores are a platform bug")
    expect(admin.locator("#thread-meta")).to_contain_text("Escalated")
    expect(admin.get_by_role("button", name="Escalate")).to_have_count(0)

    # The console hears of it live, and the super admin answers in the chat window.
    alert = console.locator(".toast", has_text="New escalation from acme")
    expect(alert).to_contain_text("Scores are a platform bug")
    shot(console, "console-escalation-alert")
    alert.get_by_role("link", name="Open escalations").click()
    console.get_by_role("link", name="Scores vanished").click()
    expect(console.locator(".msg-body", has_text="Looking into it")).to_be_visible()
    _send(console, "Fixed on our side, please retry")
    expect(player.locator(".msg-body").last).to_have_text("Fixed on our side, please retry")
    expect(player.locator(".msg").last.locator(".chip-platform")).to_have_text("Platform")
    # The console's chat window is live too (a socket on the tenant's host).
    _send(player, "Works now, thanks!")
    expect(console.locator(".msg-body").last).to_have_text("Works now, thanks!")
    shot(console, "console-escalation", notices=False)

    player.set_viewport_size(PHONE)
    shot(player, "app-phone", notices=False)
    console.set_viewport_size(PHONE)
    shot(console, "console-phone")


def test_the_unread_badge_counts_up_and_down(open_page, people: People, rest: Rest):
    player = rest.login(ACME, people.player)
    channel = rest.call(
        ACME, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "Badge check"}, player
    )
    admin = open_page(ACME, people.admin)
    badge = admin.locator("#unread-count")
    row = admin.locator("#channel-list a", has_text="Badge check")
    expect(row).to_be_visible()
    # What the server counts, once the page shows it (the badge starts at 0 until asked).
    admin_token = rest.login(ACME, people.admin)
    before = rest.call(ACME, "GET", "/api/chat/unread", token=admin_token)["total"]
    expect(badge).to_have_text(str(before))

    for number in (1, 2):
        rest.call(
            ACME,
            "POST",
            f"/api/chat/channels/{channel['id']}/messages",
            {"content": f"n{number}"},
            player,
        )
        expect(badge).to_have_text(str(before + number))
        expect(row.locator(".badge")).to_have_text(str(number))
    shot(admin, "app-unread")

    row.click()
    expect(admin.locator(".msg-body").last).to_have_text("n2")
    expect(badge).to_have_text(str(before))
    expect(row.locator(".badge")).to_have_count(0)


def test_a_dropped_socket_reconnects_and_catches_up_without_duplicates(
    open_page, people: People, rest: Rest, server: str
):
    player_token = rest.login(ACME, people.player)
    admin_token = rest.login(ACME, people.admin)
    channel = rest.call(
        ACME,
        "POST",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "Flaky wifi"},
        player_token,
    )
    url = f"/api/chat/channels/{channel['id']}/messages"

    online = threading.Event()
    online.set()
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        if not online.is_set():
            ws.close(code=4000, reason="offline")
            return
        sockets.append((ws, ws.connect_to_server()))

    page = open_page(ACME)
    page.route_web_socket(re.compile(r".*/ws/chat/.*"), route)
    page.goto(server.format(host=ACME) + f"/#/c/{channel['id']}")
    sign_in(page, people.player)
    expect(page.locator("#thread-subject")).to_have_text("Flaky wifi")
    expect(page.locator("#connection")).to_have_text("Live")
    rest.call(ACME, "POST", url, {"content": "before the drop"}, admin_token)
    expect(page.locator(".msg-body").last).to_have_text("before the drop")

    online.clear()
    for ws, upstream in sockets:
        ws.close(code=4000, reason="network drop")
        upstream.close()
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    missed = [f"missed {n}" for n in range(1, 4)]
    for text in missed:
        rest.call(ACME, "POST", url, {"content": text}, admin_token)
    shot(page, "app-reconnecting")
    online.set()

    expect(page.locator("#connection")).to_have_text("Live", timeout=15_000)
    expect(page.locator(".msg-body").last).to_have_text("missed 3")
    bodies = page.locator(".msg:not(.msg-system) .msg-body").all_inner_texts()
    assert bodies == ["before the drop", *missed]
    # Live again: the next message arrives once.
    rest.call(ACME, "POST", url, {"content": "after"}, admin_token)
    expect(page.locator(".msg-body").last).to_have_text("after")
    assert page.locator(".msg-body", has_text="after").count() == 1


def test_the_console_provisions_suspends_reactivates_and_deletes_a_tenant(
    open_page, people: People, server: str
):
    slug = f"webt{os.getpid() % 100000}"
    console = open_page("localhost", people.super_admin)
    console.get_by_role("link", name="Tenants").click()
    console.fill("#new-slug", slug)
    console.fill("#new-name", "Web Test Quiz")
    console.fill("#new-admin", f"boss@{slug}.test")
    console.get_by_role("button", name="Provision").click()
    expect(console.locator(".secret")).to_have_count(1)
    row = console.locator(f"tr[data-slug={slug}]")
    expect(row).to_contain_text("Active")
    shot(console, "console-tenants")

    row.get_by_role("button", name=f"Suspend {slug}").click()
    _answer(console, "Unpaid invoice")
    expect(row).to_contain_text("Suspended")
    expect(row).to_contain_text("Unpaid invoice")
    tenant_page = open_page(f"{slug}.localhost")
    expect(tenant_page.locator("h1")).to_have_text("This organisation is suspended")

    row.get_by_role("button", name=f"Reactivate {slug}").click()
    expect(row).to_contain_text("Active")
    tenant_page.reload()
    expect(tenant_page.locator("#login-form")).to_be_visible()

    row.get_by_role("button", name=f"Delete {slug}").click()
    confirm = console.locator("dialog[open] button[type=submit]")
    expect(confirm).to_be_disabled()
    _answer(console, slug)
    expect(console.locator(f"tr[data-slug={slug}]")).to_have_count(0)


def test_one_tenants_session_sees_nothing_of_another(
    open_page, people: People, rest: Rest, server: str
):
    acme_player = rest.login(ACME, people.player)
    acme_channel = rest.call(
        ACME,
        "POST",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "Acme secret"},
        acme_player,
    )
    acme = open_page(ACME, people.admin)
    expect(acme.locator("#channel-list a", has_text="Acme secret")).to_be_visible()
    token = acme.evaluate("localStorage.getItem('chat.token')")

    # acme's token carried to globex's page is refused; nothing of globex loads.
    globex = open_page(GLOBEX)
    globex.evaluate("token => localStorage.setItem('chat.token', token)", token)
    globex.reload()
    expect(globex.locator("#login-error")).to_be_visible()
    expect(globex.locator("#chat-view")).to_be_hidden()

    # globex's own admin sees only globex's channels, and acme's channel answers not found.
    sign_in(globex, people.globex_admin)
    expect(globex.locator("#channels-state")).not_to_have_text("Loading channels…")
    expect(globex.locator("#channel-list")).not_to_contain_text("Acme secret")
    globex.goto(server.format(host=GLOBEX) + f"/#/c/{acme_channel['id']}")
    expect(globex.locator(".toast-error")).to_contain_text("not yours")
    expect(globex.locator("#thread")).to_be_hidden()


def test_history_loads_older_pages_as_you_scroll_up(open_page, people: People, rest: Rest):
    token = rest.login(ACME, people.admin)
    channel = rest.call(
        ACME, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "Long thread"}, token
    )
    for number in range(1, 61):
        rest.call(
            ACME,
            "POST",
            f"/api/chat/channels/{channel['id']}/messages",
            {"content": f"line {number}"},
            token,
        )
    page = open_page(ACME, people.admin)
    page.evaluate("id => { location.hash = `#/c/${id}`; }", channel["id"])
    bodies = page.locator(".msg:not(.msg-system) .msg-body")
    expect(bodies.last).to_have_text("line 60")
    expect(bodies).to_have_count(50)  # the newest page
    page.locator(".scroller").evaluate("el => { el.scrollTop = 0; }")
    expect(bodies).to_have_count(60)
    assert bodies.all_inner_texts() == [f"line {n}" for n in range(1, 61)]


def test_a_moderator_removes_a_tournament_message_and_everyone_sees_it_removed(
    open_page, people: People, rest: Rest
):
    admin_token = rest.login(ACME, people.admin)
    player_token = rest.login(ACME, people.player)
    channel = rest.call(
        ACME,
        "POST",
        "/api/chat/channels",
        {
            "type": "TOURNAMENT",
            "subject": "Autumn Cup",
            "contextId": f"autumn-{os.getpid()}",
            "participantIds": [people.player.pk],
        },
        admin_token,
    )
    url = f"/api/chat/channels/{channel['id']}/messages"
    rest.call(ACME, "POST", url, {"content": "buy cheap answers here"}, player_token)
    admin = open_page(ACME, people.admin)
    player = open_page(ACME, people.player)
    for page in (admin, player):
        page.evaluate("id => { location.hash = `#/c/${id}`; }", channel["id"])
        expect(page.locator(".msg-body").last).to_have_text("buy cheap answers here")
    expect(player.get_by_role("button", name="Remove")).to_have_count(0)

    admin.get_by_role("button", name="Remove").click()
    _answer(admin)
    removed = "This message was removed by a moderator."
    expect(admin.locator(".msg-removed .msg-body")).to_have_text(removed)
    expect(player.locator(".msg-removed .msg-body")).to_have_text(removed)
    assert "buy cheap" not in player.locator(".messages").inner_text()


def test_a_server_going_away_is_followed_by_an_immediate_reconnect(
    open_page, people: People, rest: Rest, server: str
):
    """A socket closed with 1001 (a server process stopping) reconnects at once, with no
    backoff (its first delay is at least 250 ms otherwise), and catches up."""
    player_token = rest.login(ACME, people.player)
    channel = rest.call(
        ACME, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "Restart"}, player_token
    )
    opened: list[float] = []
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        opened.append(time.monotonic())
        sockets.append((ws, ws.connect_to_server()))

    page = open_page(ACME)
    page.route_web_socket(re.compile(r".*/ws/chat/.*"), route)
    page.goto(server.format(host=ACME) + f"/#/c/{channel['id']}")
    sign_in(page, people.player)
    expect(page.locator("#connection")).to_have_text("Live")
    count = len(opened)

    ws, upstream = sockets[-1]
    closed_at = time.monotonic()
    ws.close(code=1001, reason="going away")
    upstream.close()
    expect(page.locator("#connection")).to_have_text("Live", timeout=5_000)
    assert len(opened) == count + 1
    assert opened[-1] - closed_at < 0.2
    path = f"/api/chat/channels/{channel['id']}/messages"
    rest.call(ACME, "POST", path, {"content": "after the restart"}, player_token)
    expect(page.locator(".msg-body").last).to_have_text("after the restart")
