from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and other non-strings instead of coercing them."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


def storable_text(text: str) -> bool:
    """Whether PostgreSQL can store the text: no NUL character and no lone surrogate
    (which UTF-8 cannot encode)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# PostgreSQL's bigint: ids, sequence numbers and offsets never exceed it. A larger number
# from a client is bad input (400), not a database error.
BIGINT_MAX = 2**63 - 1


def db_int(value: object) -> int:
    """An integer a bigint column can hold, from a client's value; ValueError otherwise
    (callers already treat ValueError as bad input)."""
    if isinstance(value, bool):
        raise ValueError("not an integer")
    number = int(str(value))
    if not -BIGINT_MAX <= number <= BIGINT_MAX:
        raise ValueError("out of range")
    return number


class BigIntConverter:
    """Path converter `<bigint:name>`: digits only, within bigint; anything else does not
    match the route, so the client gets 404 instead of a database error."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > BIGINT_MAX:
            raise ValueError("out of range")
        return number

    def to_url(self, value: int) -> str:
        return str(value)
