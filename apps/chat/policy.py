"""Who may do what in a channel: the one place each chat rule is written. Services,
REST views and sockets ask these functions and decide nothing themselves.

Each `can_*` answers a `Decision`: true when allowed; otherwise it carries the error
the caller raises (`decision.enforce()`), so every transport refuses the same way. The
checks run in a fixed order: an archived channel is refused (409) before the actor's
right, and the actor's right before the channel's state.

Roles in a channel follow from its type and the person's membership role
(`participant_role`): tenant admins and the management team (the staff) are channel
`ADMIN`s of SUPPORT and TOURNAMENT channels whenever they join, at opening or later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apps.accounts.actors import Actor
from apps.accounts.models import STAFF_ROLES, Role
from apps.chat.locate import Located
from apps.chat.models import (
    TICKET_TYPES,
    Channel,
    ChannelStatus,
    ChannelType,
    ParticipantRole,
    TicketStatus,
)
from apps.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput


@dataclass(frozen=True)
class Decision:
    refusal: ApplicationError | None = None

    def __bool__(self) -> bool:
        return self.refusal is None

    def enforce(self) -> None:
        if self.refusal is not None:
            raise self.refusal


ALLOWED = Decision()


def _refused(error: ApplicationError) -> Decision:
    return Decision(error)


# --- roles -------------------------------------------------------------------------------


def answers_tickets(actor: Actor, channel: Channel) -> bool:
    """Whether the actor answers tickets in this channel (rather than asks): super admins
    on platform tickets; the tenant's staff and super admins elsewhere."""
    if channel.type == ChannelType.PLATFORM_SUPPORT:
        return actor.is_super_admin
    return actor.is_super_admin or actor.is_staff_member


def participant_role(channel_type: str, member_role: Role) -> ParticipantRole:
    """The role a member of the tenant holds in a channel of this type, whether they join
    when it opens or are added later."""
    if channel_type == ChannelType.TEAM:
        return ParticipantRole.ADMIN if member_role == Role.TENANT_ADMIN else ParticipantRole.MEMBER
    if channel_type == ChannelType.PLATFORM_SUPPORT:
        return ParticipantRole.MEMBER
    return ParticipantRole.ADMIN if member_role in STAFF_ROLES else ParticipantRole.MEMBER


def added_role(channel_type: str, member_role: Role, requested: str) -> str:
    """Adding someone: the role asked for, but never less than `participant_role`."""
    role = participant_role(channel_type, member_role)
    return role if role == ParticipantRole.ADMIN else requested


def role_after_change(
    channel_type: str, member_role: Role | None, current: str, *, opened: bool
) -> ParticipantRole | None:
    """The role someone keeps in a channel they take part in once their membership role
    becomes `member_role` (None: no longer a member), or None when they must leave it.

    TEAM channels are staff only and platform tickets tenant admins only. A role that
    makes someone a channel `ADMIN` does so at once; losing it takes away what it gave:
    a former moderator of a SUPPORT or TOURNAMENT channel leaves it (the SUPPORT request
    they opened themselves excepted), a former tenant admin is a MEMBER of the TEAM
    channels they did not open."""
    if member_role is None:
        return None
    if channel_type == ChannelType.TEAM and member_role not in STAFF_ROLES:
        return None
    if channel_type == ChannelType.PLATFORM_SUPPORT and member_role != Role.TENANT_ADMIN:
        return None
    wanted = participant_role(channel_type, member_role)
    if wanted == ParticipantRole.ADMIN or current != ParticipantRole.ADMIN:
        return (
            ParticipantRole.ADMIN if wanted == ParticipantRole.ADMIN else ParticipantRole(current)
        )
    if channel_type == ChannelType.TEAM:
        return ParticipantRole.ADMIN if opened else ParticipantRole.MEMBER
    if channel_type == ChannelType.SUPPORT and opened:
        return wanted
    return None


def opener_role(channel_type: str, actor: Actor) -> ParticipantRole:
    """Who opens a TEAM or TOURNAMENT channel administers it; a platform ticket's opener
    asks; a SUPPORT channel's opener holds their usual role."""
    if channel_type in (ChannelType.TEAM, ChannelType.TOURNAMENT):
        return ParticipantRole.ADMIN
    assert actor.role is not None  # only members of the tenant open channels
    return participant_role(channel_type, actor.role)


def joining_at_opening(channel_type: str) -> tuple[Role, ...]:
    """Membership roles whose holders all join a new channel of this type as `ADMIN`:
    the tenant admins take every support request; the staff moderate tournaments."""
    if channel_type == ChannelType.SUPPORT:
        return (Role.TENANT_ADMIN,)
    if channel_type == ChannelType.TOURNAMENT:
        return STAFF_ROLES
    return ()


def super_admins_join(channel_type: str) -> bool:
    """All super admins join a new platform ticket (and an escalated channel)."""
    return channel_type == ChannelType.PLATFORM_SUPPORT


# --- opening and joining -----------------------------------------------------------------


def can_open_channels(actor: Actor) -> Decision:
    if actor.tenant.is_public:
        return _refused(
            InvalidInput("Channels are opened on an organisation's host.", code="wrong_host")
        )
    if actor.role is None:
        return _refused(
            Forbidden("Super admins answer channels; members of the organisation open them.")
        )
    return ALLOWED


def can_open(actor: Actor, channel_type: str) -> Decision:
    if channel_type == ChannelType.TEAM and not actor.is_staff_member:
        return _refused(Forbidden("Only admins and the management team use team channels."))
    if channel_type == ChannelType.TOURNAMENT and not actor.is_staff_member:
        return _refused(Forbidden("Only admins and the management team open tournament channels."))
    if channel_type == ChannelType.PLATFORM_SUPPORT and not actor.is_tenant_admin:
        return _refused(Forbidden("Only tenant admins open platform-support tickets."))
    return ALLOWED


def can_include(actor: Actor, channel_type: str, roles: Iterable[Role], field: str) -> Decision:
    """Whether people with these membership roles may take part: TEAM channels are staff
    only, platform tickets tenant admins only, and a participant's support request
    includes only staff. `field` names the input refused."""
    roles = list(roles)
    if channel_type == ChannelType.TEAM and any(r not in STAFF_ROLES for r in roles):
        return _refused(
            InvalidInput(
                "Team channels are for admins and the management team only.",
                fields={field: ["Only admins or management team members."]},
            )
        )
    if channel_type == ChannelType.PLATFORM_SUPPORT and any(r != Role.TENANT_ADMIN for r in roles):
        return _refused(
            InvalidInput(
                "Platform tickets can only include the organisation's admins.",
                fields={field: ["Only tenant admins."]},
            )
        )
    if (
        channel_type == ChannelType.SUPPORT
        and actor.role == Role.PARTICIPANT
        and any(r not in STAFF_ROLES for r in roles)
    ):
        return _refused(
            InvalidInput(
                "A support request can only include the organisation's staff.",
                fields={field: ["Only admins or management team members."]},
            )
        )
    return ALLOWED


# --- acting on a channel -----------------------------------------------------------------


def _writable(channel: Channel) -> Decision:
    if channel.status == ChannelStatus.ARCHIVED:
        return _refused(
            Conflict("This channel is archived and read-only.", code="channel_archived")
        )
    return ALLOWED


def _administers(actor: Actor, located: Located) -> bool:
    """Tenant admins; management-team members who are the channel's `ADMIN`; super admins
    on an escalated channel. Platform tickets: super admins and the tenant's admins."""
    channel = located.channel
    if channel.type == ChannelType.PLATFORM_SUPPORT:
        return actor.is_super_admin or actor.is_tenant_admin
    if actor.is_tenant_admin:
        return True
    if (
        actor.role == Role.MANAGEMENT_TEAM
        and located.participant is not None
        and located.participant.role == ParticipantRole.ADMIN
    ):
        return True
    return actor.is_super_admin and channel.status == ChannelStatus.ESCALATED


def _administered(actor: Actor, located: Located, action: str) -> Decision:
    if not (writable := _writable(located.channel)):
        return writable
    if not _administers(actor, located):
        return _refused(Forbidden(f"Only the channel's admins may {action} it."))
    return ALLOWED


def can_post(actor: Actor, located: Located) -> Decision:
    """Participants other than observers; a super admin also before joining (answering
    from the console joins them)."""
    if not (writable := _writable(located.channel)):
        return writable
    participant = located.participant
    if participant is None and not actor.is_super_admin:
        return _refused(Forbidden("You are not a participant of this channel."))
    if participant is not None and participant.role == ParticipantRole.OBSERVER:
        return _refused(Forbidden("Observers cannot post in this channel.", code="observer"))
    return ALLOWED


def sees_notes(actor: Actor, channel: Channel) -> bool:
    """Internal notes exist on tickets and show only to the people who answer them: the
    tenant's staff and super admins on SUPPORT channels, super admins on platform tickets
    (never the requester, nor the tenant admin who opened a platform ticket)."""
    return channel.type in TICKET_TYPES and answers_tickets(actor, channel)


def can_post_note(actor: Actor, located: Located) -> Decision:
    """Whoever may post in a ticket and sees its notes."""
    if not (decision := can_post(actor, located)):
        return decision
    if located.channel.type not in TICKET_TYPES:
        return _refused(InvalidInput("Only tickets take internal notes.", code="not_a_ticket"))
    if not sees_notes(actor, located.channel):
        return _refused(Forbidden("Only the people answering a ticket write internal notes."))
    return ALLOWED


def can_read_canned(actor: Actor) -> Decision:
    """A tenant's canned responses: its staff; the platform's (the console's host): super
    admins."""
    allowed = actor.is_super_admin if actor.tenant.is_public else actor.is_staff_member
    if not allowed:
        return _refused(Forbidden("Canned responses are for the people answering tickets."))
    return ALLOWED


def can_manage_canned(actor: Actor) -> Decision:
    """Writing a set: the tenant's admins; on the console's host, super admins."""
    allowed = actor.is_super_admin if actor.tenant.is_public else actor.is_tenant_admin
    if not allowed:
        return _refused(Forbidden("Only admins manage canned responses."))
    return ALLOWED


def can_use_canned(actor: Actor, located: Located) -> Decision:
    """Inserting a canned response: whoever answers the ticket (the set is the one where
    the ticket lives)."""
    if located.channel.type not in TICKET_TYPES or not located.channel.has_ticket:
        return _refused(InvalidInput("Only tickets take canned responses.", code="not_a_ticket"))
    if not answers_tickets(actor, located.channel):
        return _refused(Forbidden("Canned responses are for the people answering tickets."))
    return ALLOWED


def can_read_reports(actor: Actor) -> Decision:
    """A tenant's support figures: its admins, on its host (super admins: the console)."""
    if actor.tenant.is_public or not actor.is_tenant_admin:
        return _refused(Forbidden("Only the organisation's admins read its reports."))
    return ALLOWED


RATING_WINDOW = timedelta(days=7)


def can_rate(actor: Actor, located: Located, *, now: datetime) -> Decision:
    """The requester, once, on a resolved ticket, within RATING_WINDOW of its resolution."""
    channel = located.channel
    if not channel.has_ticket:
        return _refused(InvalidInput("This channel is not a ticket.", code="not_a_ticket"))
    ticket = channel.ticket
    if ticket.requester_id != actor.user.pk:
        return _refused(Forbidden("Only the person who asked may rate the ticket."))
    if ticket.rating is not None:
        return _refused(Conflict("This ticket is rated already.", code="already_rated"))
    if ticket.status != TicketStatus.RESOLVED or ticket.resolved_at is None:
        return _refused(Conflict("Only a resolved ticket can be rated.", code="not_resolved"))
    if now - ticket.resolved_at > RATING_WINDOW:
        return _refused(
            Conflict("Ratings close 7 days after the ticket is resolved.", code="rating_closed")
        )
    return ALLOWED


def can_mark_read(actor: Actor, located: Located) -> Decision:
    if located.participant is None:
        return _refused(Forbidden("You are not a participant of this channel."))
    return ALLOWED


def can_remove_message(actor: Actor, located: Located) -> Decision:
    """Moderation exists in TOURNAMENT channels: their `ADMIN`s and the tenant admins."""
    if not (writable := _writable(located.channel)):
        return writable
    moderator = (
        located.participant is not None and located.participant.role == ParticipantRole.ADMIN
    )
    if located.channel.type != ChannelType.TOURNAMENT or not (moderator or actor.is_tenant_admin):
        return _refused(Forbidden("Only moderators of a tournament channel may remove messages."))
    return ALLOWED


def can_add_participants(actor: Actor, located: Located) -> Decision:
    if not (decision := _administered(actor, located, "add people to")):
        return decision
    if located.channel.type == ChannelType.PLATFORM_SUPPORT:
        return _refused(
            InvalidInput("Platform tickets have fixed participants.", code="fixed_participants")
        )
    return ALLOWED


def can_escalate(actor: Actor, located: Located) -> Decision:
    """A SUPPORT channel not escalated already, by its admins."""
    if not (decision := _administered(actor, located, "escalate")):
        return decision
    channel = located.channel
    if channel.type != ChannelType.SUPPORT:
        return _refused(
            InvalidInput("Only support channels can be escalated.", code="not_escalatable")
        )
    if channel.status == ChannelStatus.ESCALATED:
        return _refused(Conflict("This channel is already escalated.", code="already_escalated"))
    return ALLOWED


def can_hand_back(actor: Actor, located: Located) -> Decision:
    """De-escalation: super admins, on an escalated channel."""
    if not (writable := _writable(located.channel)):
        return writable
    if not actor.is_super_admin:
        return _refused(Forbidden("Only platform super admins hand an escalation back."))
    if located.channel.status != ChannelStatus.ESCALATED:
        return _refused(Conflict("This channel is not escalated.", code="not_escalated"))
    return ALLOWED


def can_assign(actor: Actor, located: Located) -> Decision:
    """The channel's admins; on platform tickets, super admins only."""
    if not (decision := _administered(actor, located, "assign")):
        return decision
    if located.channel.type == ChannelType.PLATFORM_SUPPORT and not actor.is_super_admin:
        return _refused(Forbidden("Only super admins assign platform tickets."))
    return ALLOWED


def assignable_roles(channel_type: str) -> tuple[Role, ...]:
    """Membership roles an assignee of a tenant channel holds; platform tickets are
    assigned to super admins (no membership)."""
    return () if channel_type == ChannelType.PLATFORM_SUPPORT else STAFF_ROLES


def _platform_staff_only(actor: Actor, located: Located, action: str) -> Decision:
    """On platform tickets the staff are the super admins: the tenant admin who asked
    neither resolves nor changes the ticket (README: Ticket workflow)."""
    if located.channel.type == ChannelType.PLATFORM_SUPPORT and not actor.is_super_admin:
        return _refused(Forbidden(f"Only platform super admins {action} platform tickets."))
    return ALLOWED


def can_resolve(actor: Actor, located: Located) -> Decision:
    """The channel's admins; on platform tickets, super admins only."""
    if not (decision := _administered(actor, located, "resolve")):
        return decision
    if not (decision := _platform_staff_only(actor, located, "resolve")):
        return decision
    if located.channel.status == ChannelStatus.RESOLVED:
        return _refused(Conflict("This channel is already resolved.", code="already_resolved"))
    return ALLOWED


def can_archive(actor: Actor, located: Located) -> Decision:
    """Tenant admins; super admins too on platform tickets."""
    if not (writable := _writable(located.channel)):
        return writable
    platform = located.channel.type == ChannelType.PLATFORM_SUPPORT
    if not (actor.is_tenant_admin or (platform and actor.is_super_admin)):
        return _refused(Forbidden("Only tenant admins may archive a channel."))
    return ALLOWED


def can_edit_ticket(actor: Actor, located: Located) -> Decision:
    """A ticket's status, priority and category: the channel's admins; on platform
    tickets, super admins only."""
    if not (writable := _writable(located.channel)):
        return writable
    if not located.channel.has_ticket:
        return _refused(InvalidInput("This channel is not a ticket.", code="not_a_ticket"))
    if not _administers(actor, located):
        return _refused(Forbidden("Only the channel's admins may update it."))
    return _platform_staff_only(actor, located, "change")


# --- SLA policies -------------------------------------------------------------------------


def can_read_sla(actor: Actor) -> Decision:
    """The organisation's SLA targets: its staff read them; on the console, super admins
    read the platform's."""
    allowed = actor.is_super_admin if actor.tenant.is_public else actor.is_staff_member
    return ALLOWED if allowed else _refused(Forbidden("Only staff see the SLA targets."))


def can_set_sla(actor: Actor) -> Decision:
    """Tenant admins set their organisation's targets; super admins the platform's (on the
    console)."""
    allowed = actor.is_super_admin if actor.tenant.is_public else actor.is_tenant_admin
    return ALLOWED if allowed else _refused(Forbidden("Only admins change the SLA targets."))
