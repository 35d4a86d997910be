"""What a tenant channel adds to its tenant's counts (`apps.records.counters`), and the
writes that change it: each adds the difference in its own transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from apps.chat.locate import Located
from apps.chat.models import OPEN_TICKET_STATUSES, Channel, ChannelStatus, SupportTicket
from apps.records import counters, desk


def contribution(channel: Channel) -> counters.Counts:
    """The channel's share of the counts, messages aside (those are counted as sent)."""
    open_ticket = channel.has_ticket and channel.ticket.status in OPEN_TICKET_STATUSES
    return counters.Counts(
        channels=1,
        active_channels=int(channel.status == ChannelStatus.ACTIVE),
        escalated_channels=int(channel.status == ChannelStatus.ESCALATED),
        open_tickets=int(open_ticket),
    )


@contextmanager
def counted(located: Located) -> Iterator[None]:
    """Around a change to a located channel's status or ticket: adds what changed."""
    if located.tenant_id is None:
        yield
        return
    before = contribution(located.channel)
    yield
    counters.add(located.tenant_id, located.channel.pk, contribution(located.channel) - before)


def desk_event(
    tenant_id: int | None,
    ticket: SupportTicket,
    metric: str,
    at: datetime,
    *,
    seconds: float | None = None,
    bucket: int = 0,
) -> None:
    """A tenant ticket's event into the public desk rollups (`apps.records.desk`), in the
    write's transaction; platform tickets (tenant None) are read from the public schema
    directly and are not rolled up."""
    if tenant_id is None:
        return
    if seconds is not None:
        bucket = desk.bucket_of(seconds)
    desk.add(
        tenant_id=tenant_id,
        at=at,
        category=ticket.category,
        priority=ticket.priority,
        metric=metric,
        bucket=bucket,
    )
