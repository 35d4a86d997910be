"""`GET /api/reports`: a tenant admin's figures on the organisation's support desk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HostRequest
from apps.chat import policy, reports

TAGS = ["reports"]
MAX_RANGE = timedelta(days=400)


class ReportInput(serializers.Serializer):
    # `from` is a Python keyword: declared through the class namespace.
    locals()["from"] = serializers.DateTimeField(
        help_text="Start, included (ISO 8601; a date alone is midnight UTC)."
    )
    to = serializers.DateTimeField(help_text="End, excluded (ISO 8601).")
    groupBy = serializers.ChoiceField(choices=reports.GROUPS, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs["from"], attrs["to"]
        if start >= end:
            raise serializers.ValidationError({"to": ["Must be after from."]})
        if end - start > MAX_RANGE:
            raise serializers.ValidationError({"to": ["At most 400 days after from."]})
        return attrs


class ConsoleReportInput(ReportInput):
    groupBy = serializers.ChoiceField(
        choices=("day", "category", "priority", "tenant"), required=False
    )


class ReportSeconds(serializers.Serializer):
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)


class ReportCsat(serializers.Serializer):
    average = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()


class ReportFigures(serializers.Serializer):
    opened = serializers.IntegerField()
    resolved = serializers.IntegerField()
    escalated = serializers.IntegerField()
    firstResponseSeconds = ReportSeconds()
    resolutionSeconds = ReportSeconds()
    slaBreachRate = serializers.FloatField(
        allow_null=True, help_text="Breached share of the tickets opened; null without SLAs."
    )
    csat = ReportCsat()


class ReportGroup(ReportFigures):
    key = serializers.CharField(
        allow_null=True, help_text="The day (YYYY-MM-DD, UTC), category, priority or user id."
    )


class ReportFiguresOutput(serializers.Serializer):
    totals = ReportFigures()
    groups = ReportGroup(many=True)


class ReportOutput(serializers.Serializer):
    locals()["from"] = serializers.DateTimeField()
    to = serializers.DateTimeField()
    groupBy = serializers.CharField(allow_null=True)
    totals = ReportFigures()
    groups = ReportGroup(many=True)


def report_range(
    query: Any, shape: type[ReportInput] = ReportInput
) -> tuple[datetime, datetime, str | None]:
    serializer = shape(data=query)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return data["from"], data["to"], data.get("groupBy")


def report_body(
    start: datetime, end: datetime, group: str | None, figures: dict[str, Any]
) -> dict[str, Any]:
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "groupBy": group,
        **figures,
    }


class ReportsApi(APIView):
    @extend_schema(
        parameters=[ReportInput],
        responses={200: ReportOutput},
        tags=TAGS,
        summary="Support figures for [from, to): opened, resolved, escalated, response and "
        "resolution times (median, p90), SLA breach rate, CSAT; groupBy day, category, "
        "priority or assignee (tenant admins)",
    )
    def get(self, request: HostRequest) -> Response:
        policy.can_read_reports(request.actor).enforce()
        start, end, group = report_range(request.query_params)
        figures = reports.ticket_report(start=start, end=end, group=group)
        return Response(report_body(start, end, group, figures))
