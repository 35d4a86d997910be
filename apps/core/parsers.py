"""Limits on what a client's JSON may be: how deep it nests (REST bodies and socket
frames alike). Python's parser recurses, so a body nested thousands deep would otherwise
end in a RecursionError (a 500, or a dead socket)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {settings.MAX_JSON_DEPTH} levels.")


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest deeper than `limit` (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def loads(text: str) -> Any:
    """`json.loads`, refusing (TooDeep) JSON nested deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep() from None
    if nested_deeper(value, settings.MAX_JSON_DEPTH):
        raise TooDeep()
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 `bad_request` for JSON nested too deeply."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(str(TooDeep()), code="bad_request") from None
        if nested_deeper(data, settings.MAX_JSON_DEPTH):
            raise ParseError(str(TooDeep()), code="bad_request")
        return data
