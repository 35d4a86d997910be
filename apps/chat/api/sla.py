"""SLA targets and the organisation's calendar: `/api/sla-policies` on a tenant's host,
`/api/console/sla-policies` (the platform's, for PLATFORM_SUPPORT tickets) on the
console."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HostRequest
from apps.chat.models import TicketPriority
from apps.chat.services import sla
from apps.chat.sla import DAYS
from apps.core.api import validated
from apps.core.fields import StrictCharField

TAGS = ["sla"]


class BusinessHoursItem(serializers.Serializer):
    day = serializers.ChoiceField(choices=DAYS)
    start = StrictCharField(max_length=5, help_text="HH:MM, local time")
    end = StrictCharField(max_length=5, help_text="HH:MM (24:00 for midnight), after start")


class SlaPolicyItem(serializers.Serializer):
    priority = serializers.ChoiceField(choices=TicketPriority.choices)
    firstResponseMinutes = serializers.IntegerField(
        min_value=1, max_value=sla.MAX_MINUTES, allow_null=True, default=None
    )
    resolutionMinutes = serializers.IntegerField(
        min_value=1, max_value=sla.MAX_MINUTES, allow_null=True, default=None
    )
    businessHoursOnly = serializers.BooleanField(
        default=False, help_text="Count only the business hours, in the time zone."
    )
    autoEscalate = serializers.BooleanField(
        default=False,
        help_text="A missed target escalates the SUPPORT channel to the super admins.",
    )


class SlaSettingsOutput(serializers.Serializer):
    timeZone = serializers.CharField(help_text="IANA name, e.g. Europe/Berlin")
    businessHours = BusinessHoursItem(many=True)
    policies = SlaPolicyItem(many=True)


class SlaSettingsInput(serializers.Serializer):
    timeZone = StrictCharField(max_length=64, required=False)
    businessHours = BusinessHoursItem(many=True, required=False)
    policies = SlaPolicyItem(many=True, required=False)


class SlaPoliciesApi(APIView):
    @extend_schema(
        responses={200: SlaSettingsOutput},
        tags=TAGS,
        summary="The organisation's SLA targets per priority, time zone and business hours",
    )
    def get(self, request: HostRequest) -> Response:
        return Response(sla.sla_settings(actor=request.actor).payload())

    @extend_schema(
        request=SlaSettingsInput,
        responses={200: SlaSettingsOutput},
        tags=TAGS,
        summary="Replace what is given: time zone, business hours, the set of policies",
    )
    def put(self, request: HostRequest) -> Response:
        data = validated(SlaSettingsInput, request.data)
        settings = sla.sla_settings_set(
            actor=request.actor,
            time_zone=data.get("timeZone"),
            business_hours=[dict(item) for item in data["businessHours"]]
            if "businessHours" in data
            else None,
            policies=[dict(item) for item in data["policies"]] if "policies" in data else None,
        )
        return Response(settings.payload())
