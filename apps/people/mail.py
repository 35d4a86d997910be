"""Mails to people: invitations, password resets, super-admin welcomes.

Each mail has a text and an HTML part rendered from `templates/people/mail/<name>.*`
(`<name>_subject.txt`, `<name>.txt`, `<name>.html`). It is sent once the caller's
transaction commits (never for a write that rolled back): as a job of the job runner
when Celery is configured (`CELERY_BROKER_URL`; retried with backoff), otherwise on a
background thread unless `EMAIL_IN_BACKGROUND` is off. A failure to send is logged,
never raised: the request that caused it has already succeeded."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_host

logger = logging.getLogger(__name__)

# Sending does no database work: the mail's context is plain data, complete on commit.
_sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


@dataclass(frozen=True)
class Mail:
    to: str
    template: str  # a name under templates/people/mail/
    context: dict[str, Any]


def host_base(tenant: Tenant) -> str:
    """`<scheme>://<host>[:<port>]` of the tenant's host (the console's for the public
    tenant), as links in mails use it."""
    host = settings.BASE_DOMAIN if tenant.is_public else tenant_host(tenant.schema_name)
    port = settings.PUBLIC_URL_PORT
    return f"{settings.PUBLIC_URL_SCHEME}://{host}{':' + port if port else ''}"


def link(url_template: str, *, tenant: Tenant, token: str) -> str:
    return url_template.format(base=host_base(tenant), token=token)


def send_after_commit(mail: Mail) -> None:
    transaction.on_commit(lambda: _dispatch(mail))


def _dispatch(mail: Mail) -> None:
    if not settings.JOBS_IN_PROCESS:
        from apps.people.tasks import send_mail  # the task module imports this one

        try:
            send_mail.delay(mail.to, mail.template, mail.context)
            return
        except Exception:  # the broker is away: send from here rather than lose it
            logger.exception("Could not queue the %s mail; sending it now", mail.template)
    if settings.EMAIL_IN_BACKGROUND:
        _sender.submit(send_now, mail)
    else:
        send_now(mail)


def deliver(mail: Mail) -> None:
    """Renders and sends; raises when it cannot (the job runner retries)."""
    name = f"people/mail/{mail.template}"
    subject = " ".join(render_to_string(f"{name}_subject.txt", mail.context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{name}.txt", mail.context),
        to=[mail.to],
    )
    message.attach_alternative(render_to_string(f"{name}.html", mail.context), "text/html")
    message.send()


def send_now(mail: Mail) -> None:
    try:
        deliver(mail)
    except Exception:
        logger.exception("Could not send the %s mail to %s", mail.template, mail.to)
