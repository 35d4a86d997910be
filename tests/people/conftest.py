"""Helpers of the people tests: mails and signals sent after commit, links in mails."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from rest_framework.test import APIClient

from apps.accounts.signals import credentials_revoked


class Committed:
    """Runs what the requests queued for after their commit (mails, signals) whenever
    the test looks: the test's own transaction never commits."""

    def __init__(self, capture: Callable[..., AbstractContextManager[Any]]) -> None:
        self._capture = capture
        self._pending = ExitStack()
        self._pending.enter_context(capture(execute=True))

    def run(self) -> None:
        self._pending.close()
        self._pending.enter_context(self._capture(execute=True))

    def outbox(self) -> list[EmailMultiAlternatives]:
        self.run()
        return list(mail.outbox)

    def close(self) -> None:
        self._pending.close()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Iterator[Committed]:
    mail.outbox.clear()
    done = Committed(django_capture_on_commit_callbacks)
    yield done
    done.close()


@pytest.fixture
def revoked(committed: Committed) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """revoked() -> the credentials_revoked signals sent so far (committed)."""
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append({k: v for k, v in kwargs.items() if k != "signal"})

    credentials_revoked.connect(receiver, weak=False)

    def read() -> list[dict[str, Any]]:
        committed.run()
        return seen

    yield read
    credentials_revoked.disconnect(receiver)


LINK = re.compile(r"https?://\S+")


def links(message: EmailMultiAlternatives) -> tuple[str, str]:
    """The link of the text part and the one of the HTML part."""
    text = LINK.findall(message.body)
    html_body = str(message.alternatives[0][0])
    html = re.findall(r'href="([^"]+)"', html_body)
    assert len(text) >= 1 and html, (message.body, html_body)
    return text[-1], html[-1]


def follow(link: str) -> tuple[APIClient, str, Any]:
    """GETs the link on its own host, as a person clicking it would; returns a client on
    that host, the token the link carries, and the response."""
    parts = urlsplit(link)
    client = APIClient(HTTP_HOST=parts.hostname)
    token = parse_qs(parts.query)["token"][0]
    return client, token, client.get(f"{parts.path}?{parts.query}")
