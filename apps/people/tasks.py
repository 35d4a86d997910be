"""People's jobs (Celery tasks; see config/celery.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.people import mail


@shared_task(
    name="people.send_mail",
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def send_mail(to: str, template: str, context: dict[str, Any]) -> None:
    """One mail; a failure (the mail server away) is retried with backoff, then logged."""
    mail.deliver(mail.Mail(to=to, template=template, context=context))
