"""Browser tests: a real uvicorn server on the test database, driven by headless Chromium
(Debian's `chromium`, through Playwright). People are committed (the server cannot see a
test's transaction) and removed with everything they made when the module ends."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import Invitation, Role, User
from apps.accounts.services import membership_set, user_create
from apps.chat.models import CannedResponse, Channel
from apps.platform.recount import recount
from apps.records.models import AuditEntry, DeskRollup, Escalation
from apps.tenancy.models import Tenant
from tests.conftest import database_url
from tests.servers import free_port, uvicorn, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-pass-123"
SCREENSHOTS = ROOT / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@dataclass
class People:
    admin: User
    player: User
    globex_admin: User
    super_admin: User
    manager: User
    forgetful: User

    def all(self) -> list[User]:
        return [
            self.admin,
            self.player,
            self.globex_admin,
            self.super_admin,
            self.manager,
            self.forgetful,
        ]


def _person(email: str, name: str, tenant: Tenant | None, role: Role | None, **extra: Any) -> User:
    user = user_create(email=email, password=PASSWORD, display_name=name, **extra)
    # Hashed as the server checks it, not with the suite's fast test hasher.
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    if tenant is not None and role is not None:
        membership_set(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture(scope="package")
def people(django_db_blocker: Any) -> Iterator[People]:
    with django_db_blocker.unblock():
        acme = Tenant.objects.get(schema_name="acme")
        globex = Tenant.objects.get(schema_name="globex")
        audited = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        made = People(
            admin=_person("admin-web@acme.test", "Ada Admin", acme, Role.TENANT_ADMIN),
            player=_person("player-web@acme.test", "Pat Player", acme, Role.PARTICIPANT),
            globex_admin=_person("admin-web@globex.test", "Gus Globex", globex, Role.TENANT_ADMIN),
            super_admin=_person(
                "super-web@platform.test", "Sam Super", None, None, is_super_admin=True
            ),
            manager=_person("manager-web@acme.test", "Mia Manager", acme, Role.MANAGEMENT_TEAM),
            forgetful=_person("forgetful-web@acme.test", "Fay Forgetful", acme, Role.PARTICIPANT),
        )
        yield made
        _remove(made, audited)


# Addresses the tests invite: their accounts and invitations go when the package ends.
INVITED = ("robin-web@example.test", "quinn-web@example.test")


def _remove(made: People, audited: int) -> None:
    """What the package's people and the server left behind, committed: their accounts
    and channels, and every audit entry after `audited` (the last one before), whoever
    its actor (a deleted account's entries keep no actor)."""
    invited = User.objects.filter(email__in=INVITED).values_list("pk", flat=True)
    ids = [u.pk for u in made.all()] + list(invited)
    Invitation.objects.filter(email__in=INVITED).delete()
    for schema in ("acme", "globex", "public"):
        with schema_context(schema):
            channels = list(Channel.objects.filter(created_by__in=ids).values_list("pk", flat=True))
            Escalation.objects.filter(channel_id__in=channels).delete()
            Channel.objects.filter(pk__in=channels).delete()
            CannedResponse.objects.filter(created_by__in=ids).delete()
    connection.set_schema_to_public()
    DeskRollup.objects.all().delete()  # what their tickets added to the desk rollups
    AuditEntry.objects.filter(pk__gt=audited).delete()
    User.objects.filter(pk__in=ids).delete()
    # The server's writes were committed, its counters included: counted again from what
    # is left, as the platform's own repair does, so later tests start from counters that
    # agree with the schemas.
    recount()


@pytest.fixture(scope="session")
def _stray_sessions_ended(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Ends what is still connected to the test database when every test has run, so it
    can be dropped: the server's connections close a moment after it exits, and the tests
    run beside Playwright's sync API in a context of their own, whose database connection
    the suite's teardown does not see."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


class Mailbox:
    """The server's mails, one file each (Django's file backend), as a person reads them."""

    LINK = re.compile(r"https?://[^\s\"<>]+token=[A-Za-z0-9_-]+")

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def link_to(self, address: str, *, after: float, timeout: float = 15) -> str:
        """The link of the newest mail to `address` written after `after` (a time.time());
        mails go out on a background thread just after the answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = sorted(
                (f for f in self.folder.glob("*") if f.stat().st_mtime >= after),
                key=lambda f: f.stat().st_mtime,
                reverse=True,
            )
            for file in files:
                text = file.read_text(errors="replace")
                if f"To: {address}" in text and (found := self.LINK.search(text)):
                    return found.group(0)
            time.sleep(0.2)
        raise AssertionError(f"no mail to {address} in {self.folder}")


@pytest.fixture(scope="package")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Mailbox:
    return Mailbox(tmp_path_factory.mktemp("mail"))


@pytest.fixture(scope="package")
def server(people: People, mailbox: Mailbox, _stray_sessions_ended: None) -> Iterator[str]:
    """The server's base address, with `{host}` for the host name: acme.localhost, ..."""
    port = free_port()
    env = {
        **os.environ,
        # Mails are files a test reads; their links name this server's port.
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mailbox.folder),
        "PUBLIC_URL_PORT": str(port),
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",  # one process: the in-memory layer
        "LOGIN_RATE": "1000/min",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "6",
        "WS_DB_THREADS": "2",
    }
    process = uvicorn(port, env, output=subprocess.PIPE)
    try:
        wait_healthy(port, process)
        yield f"http://{{host}}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="package")
def browser(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API keeps its event loop running on this thread between calls; the
    # suite's per-test database housekeeping (plain sync Django) runs beside it. Only while
    # the browser runs, so no other test (nor a process one starts) inherits it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Rest:
    """The REST API from the test's side (to act as a second person without a browser)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens: dict[int, str] = {}

    def call(
        self, host: str, method: str, path: str, body: Any = None, token: str | None = None
    ) -> Any:
        headers = {"Host": host, "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        url = self.base.format(host="127.0.0.1") + path
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def login(self, host: str, user: User) -> str:
        """A token for the user, signed in once per run (a login hashes the password, which
        costs a second or more on a busy machine); it works on every host of the user."""
        if user.pk not in self.tokens:
            body = {"email": user.email, "password": PASSWORD}
            self.tokens[user.pk] = str(self.call(host, "POST", "/api/auth/login", body)["token"])
        return self.tokens[user.pk]


@pytest.fixture(scope="package")
def rest(server: str) -> Rest:
    return Rest(server)


@pytest.fixture
def open_page(browser: Any, server: str, rest: Rest) -> Iterator[Any]:
    """open_page(host, user=None, sign_in_form=False, path="/") -> a page in a browser
    context of its own, signed in as `user`: through the sign-in form, or with the user's
    token already in the page's storage (as after an earlier sign-in)."""
    contexts: list[Any] = []
    faults: list[str] = []

    def open_(
        host: str, user: User | None = None, *, sign_in_form: bool = False, path: str = "/"
    ) -> Any:
        context = browser.new_context(viewport=DESKTOP)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        # Uncaught errors and anything the Content-Security-Policy blocked fail the test.
        page.on("pageerror", lambda error: faults.append(f"{host}: {error}"))
        page.on(
            "console",
            lambda message: (
                faults.append(f"{host}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        if user is not None and not sign_in_form:
            key = "console.token" if host == "localhost" else "chat.token"
            page.add_init_script(
                "if (!sessionStorage.getItem('seeded')) {"
                f" localStorage.setItem('{key}', {json.dumps(rest.login(host, user))});"
                " sessionStorage.setItem('seeded', '1'); }"
            )
        page.goto(server.format(host=host) + path)
        if user is not None:
            if sign_in_form:
                sign_in(page, user)
            page.wait_for_selector("#session-bar:not([hidden])")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert faults == []


def sign_in(page: Any, user: User) -> None:
    page.fill("#login-email", user.email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#session-bar:not([hidden])")


def shot(page: Any, name: str, *, notices: bool = True) -> None:
    if not notices:
        page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
