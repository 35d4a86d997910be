"""With a job runner configured, mails leave as jobs (retried with backoff); without one,
or when the broker cannot take them, they go out as before."""

from __future__ import annotations

from typing import Any

import pytest

from apps.people import mail, tasks

CONTEXT = {
    "display_name": "Kim",
    "email": "kim@example.test",
    "site_name": "Acme",
    "valid_minutes": 60,
    "link": "http://acme.localhost:8000/reset?token=x",
}


@pytest.fixture
def queued(monkeypatch) -> list[tuple[Any, ...]]:
    sent: list[tuple[Any, ...]] = []
    original = tasks.send_mail.delay

    def delay(*args: Any) -> Any:
        sent.append(args)
        return original(*args)  # eager in the suite: runs here, as a worker would

    monkeypatch.setattr(tasks.send_mail, "delay", delay)
    return sent


def test_mail_goes_through_the_job_runner_when_configured(settings, committed, queued):
    settings.JOBS_IN_PROCESS = False
    mail.send_after_commit(
        mail.Mail(to="kim@example.test", template="password_reset", context=CONTEXT)
    )
    [sent] = committed.outbox()
    assert sent.to == ["kim@example.test"]
    assert queued == [("kim@example.test", "password_reset", CONTEXT)]


def test_without_a_runner_mail_is_sent_in_process(settings, committed, queued):
    settings.JOBS_IN_PROCESS = True
    mail.send_after_commit(
        mail.Mail(to="kim@example.test", template="password_reset", context=CONTEXT)
    )
    assert len(committed.outbox()) == 1
    assert queued == []


def test_a_failing_send_raises_in_the_job_so_it_is_retried(settings):
    settings.EMAIL_BACKEND = "tests.people.test_mail_jobs.BrokenBackend"
    with pytest.raises(ConnectionRefusedError):
        mail.deliver(mail.Mail(to="kim@example.test", template="password_reset", context=CONTEXT))
    assert tasks.send_mail.autoretry_for == (Exception,)
    assert tasks.send_mail.retry_backoff


class BrokenBackend:
    def __init__(self, **_: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("mail server away")
