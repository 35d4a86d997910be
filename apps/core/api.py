"""Small helpers shared by the REST views."""

from __future__ import annotations

from typing import Any


def validated(serializer_class: type, data: Any) -> dict[str, Any]:
    """The input checked by `serializer_class`; a 400 in the error shape otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def user_agent(request: Any) -> str:
    """The client's User-Agent header ("" when absent), which names its session."""
    return str(request.META.get("HTTP_USER_AGENT", ""))
