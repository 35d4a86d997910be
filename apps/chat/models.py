"""Chat data. These tables exist in every tenant schema (tenant channels) and in the
public schema, where they hold only PLATFORM_SUPPORT channels (tenant admin <-> super
admins), each pointing at its tenant. Which schema a channel lives in follows from its
type; see `apps.chat.locate`.

References to users and tenants (public-schema tables) carry no database foreign key
(`db_constraint=False`): PostgreSQL enforces a foreign key with triggers on the
referenced table, so every tenant schema would add a dozen triggers to `accounts_user`
(12,000 at 1,000 tenants), slowing every write to users and every new tenant. Users are
deactivated, never deleted, and only the services write these columns, with ids they
have just read.

Every relation costs each tenant a `pg_class` row and at least 8 kB, so a column gets an
index only for a query that uses it: foreign keys carry none of their own
(`db_index=False`) where a composite index leads with them, or where only deletes would
use it and none happen (users are deactivated, messages marked removed). The indexes on
`tenant` and on ticket status serve only the console's reads of the public schema, so
tenant schemas drop them (`chat.0003`, `PublicSchemaOnlyIndex`)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ChannelType(models.TextChoices):
    SUPPORT = "SUPPORT"
    TEAM = "TEAM"
    TOURNAMENT = "TOURNAMENT"
    PLATFORM_SUPPORT = "PLATFORM_SUPPORT"


class ChannelStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"
    ARCHIVED = "ARCHIVED"


class SenderType(models.TextChoices):
    SUPER_ADMIN = "SUPER_ADMIN"
    TENANT_ADMIN = "TENANT_ADMIN"
    MANAGEMENT_TEAM = "MANAGEMENT_TEAM"
    PARTICIPANT = "PARTICIPANT"
    SYSTEM = "SYSTEM"


class ParticipantRole(models.TextChoices):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    OBSERVER = "OBSERVER"


class MessageKind(models.TextChoices):
    USER = "USER"
    SYSTEM = "SYSTEM"
    # An internal note on a ticket: staff only (see `apps.chat.policy.sees_notes`).
    NOTE = "NOTE"


class TicketPriority(models.TextChoices):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"


class TicketCategory(models.TextChoices):
    TECHNICAL = "TECHNICAL"
    BILLING = "BILLING"
    FEATURE_REQUEST = "FEATURE_REQUEST"
    TOURNAMENT_ISSUE = "TOURNAMENT_ISSUE"
    ACCOUNT = "ACCOUNT"
    OTHER = "OTHER"


class TicketStatus(models.TextChoices):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_ON_USER = "WAITING_ON_USER"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


TICKET_TYPES = (ChannelType.SUPPORT, ChannelType.PLATFORM_SUPPORT)
# A ticket in one of these is waiting on someone; staff may also set these directly.
OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_USER)


class Channel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=20, choices=ChannelType.choices)
    status = models.CharField(
        max_length=20, choices=ChannelStatus.choices, default=ChannelStatus.ACTIVE
    )
    subject = models.CharField(max_length=200, blank=True)
    context_id = models.CharField(max_length=100, null=True, blank=True)
    # Set only on PLATFORM_SUPPORT channels (public schema): the tenant that opened it.
    tenant = models.ForeignKey(
        "tenancy.Tenant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # channel_tenant_status_idx leads with it
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # channel_assignee_status_idx leads with it
    )
    escalation_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Per-channel message sequence: the last number handed out. Taken under the channel's
    # row lock, so sequence order is commit order and unread = last_seq - last_read_seq.
    last_seq = models.PositiveBigIntegerField(default=0)
    # Notes take a `seq` (staff page and sync through them) but everyone's unread count is
    # over the conversation only: `last_public_seq` counts the messages that are not notes,
    # and unread = last_public_seq - last_read_public_seq. `last_message` is the last
    # message that is not a note, so the channel list shows nobody a note.
    last_public_seq = models.PositiveBigIntegerField(default=0)
    last_message = models.ForeignKey(
        "Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    last_activity_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "type"], name="channel_status_type_idx"),
            models.Index(fields=["type", "-last_activity_at"], name="channel_type_activity_idx"),
            models.Index(fields=["assigned_to", "status"], name="channel_assignee_status_idx"),
            models.Index(fields=["tenant", "status"], name="channel_tenant_status_idx"),
            # Reports count escalations by the time they happened.
            models.Index(fields=["escalated_at"], name="channel_escalated_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["context_id"],
                condition=Q(type="TOURNAMENT"),
                name="channel_one_per_tournament",
            ),
            models.CheckConstraint(
                condition=~Q(type="TOURNAMENT") | Q(context_id__isnull=False),
                name="channel_tournament_has_context",
            ),
        ]

    # Set by the selectors for the actor reading: unread messages and their role here.
    unread_count: int | None
    my_role: str | None

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @property
    def has_ticket(self) -> bool:
        return self.type in TICKET_TYPES and hasattr(self, "ticket")


class Participant(models.Model):
    # `id`: from the schema's shared `ID_SEQUENCE` (below).
    # Indexed by participant_channel_user and participant_user_channel_idx, which lead
    # with them.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="participants", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    role = models.CharField(
        max_length=10, choices=ParticipantRole.choices, default=ParticipantRole.MEMBER
    )
    # Read state: the sequence number of the last message this participant has read.
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # The same mark counted in messages that are not notes (`Channel.last_public_seq`).
    last_read_public_seq = models.PositiveBigIntegerField(default=0)
    last_read_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)

    unread_count: int  # set by the read-marking service for its answer

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="participant_channel_user")
        ]
        indexes = [models.Index(fields=["user", "channel"], name="participant_user_channel_idx")]


class Message(models.Model):
    id = models.BigAutoField(primary_key=True)  # from the schema's `ID_SEQUENCE` (below)
    # Indexed by message_channel_seq, which leads with it.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    sender_type = models.CharField(max_length=20, choices=SenderType.choices)
    kind = models.CharField(max_length=10, choices=MessageKind.choices, default=MessageKind.USER)
    # How many messages that are not notes the channel holds up to and including this one.
    public_seq = models.PositiveBigIntegerField(default=0)
    content = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        constraints = [
            # Also the index for history pages: (channel, seq) in either direction.
            models.UniqueConstraint(fields=["channel", "seq"], name="message_channel_seq")
        ]


class SupportTicket(models.Model):
    """Ticket fields of a SUPPORT or PLATFORM_SUPPORT channel."""

    channel = models.OneToOneField(
        Channel, primary_key=True, on_delete=models.CASCADE, related_name="ticket"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    category = models.CharField(
        max_length=20, choices=TicketCategory.choices, default=TicketCategory.OTHER
    )
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    status = models.CharField(
        max_length=20, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The requester's satisfaction rating (1-5), given once after the ticket is resolved.
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # SLA (apps.chat.services.sla): the targets' due times, when each was missed, and the
    # time the clock stood still (WAITING_ON_USER, RESOLVED). `sla_due_at` is the earliest
    # due time of a target not met yet (past ones included): what lists sort by.
    sla_first_response_due_at = models.DateTimeField(null=True, blank=True)
    sla_resolution_due_at = models.DateTimeField(null=True, blank=True)
    sla_first_response_breached_at = models.DateTimeField(null=True, blank=True)
    sla_resolution_breached_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["status", "priority"], name="ticket_status_priority_idx"),
            models.Index(fields=["sla_due_at"], name="ticket_sla_due_idx"),
            # Reports read tickets by the time they opened, were resolved and were rated.
            models.Index(fields=["created_at"], name="ticket_created_idx"),
            models.Index(fields=["resolved_at"], name="ticket_resolved_idx"),
            models.Index(fields=["rated_at"], name="ticket_rated_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="ticket_rating_range",
            )
        ]


class CannedResponse(models.Model):
    """A saved answer staff insert into a ticket. A tenant's set lives in its schema; the
    platform-wide set (super admins, platform tickets) lives in the public schema."""

    id = models.BigAutoField(primary_key=True)  # from the schema's `ID_SEQUENCE` (below)
    shortcut = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # never looked up by author
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shortcut"], name="canned_response_shortcut")
        ]


class SlaPolicy(models.Model):
    """Targets for tickets of one priority: in a tenant's schema the tenant's, in the
    public schema the platform's (for PLATFORM_SUPPORT tickets). A target left empty is
    not tracked. One row per priority, keyed by it."""

    # The key, with no `id`: its sequence and a second unique index would be two more
    # relations in every tenant's schema (migration chat.0006 builds the key on the
    # existing column, without the LIKE index Django adds to a text key).
    priority = models.CharField(max_length=10, choices=TicketPriority.choices, primary_key=True)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Count only the business hours of the organisation's calendar (its time zone).
    business_hours_only = models.BooleanField(default=False)
    # A missed target escalates a SUPPORT channel to the platform's super admins.
    auto_escalate = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)


# Messages, participants and canned responses take their ids from one sequence of their
# schema (migration chat.0006), not an identity sequence each: every sequence is one more
# relation in each tenant's schema. Django's state still says BigAutoField, and Django
# leaves the key out of an INSERT, so the column default applies. A migration that alters
# one of these keys must keep that default; whatever writes ids itself (an import) sets
# the sequence above them (`apps.platform.restore`).
ID_SEQUENCE = "chat_id_seq"
ID_SEQUENCE_MODELS: tuple[type[models.Model], ...] = (Message, Participant, CannedResponse)
