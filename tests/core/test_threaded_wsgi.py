"""HTTP's bridge from the event loop to the request threads (apps.core.threaded_wsgi): what
a client gets back, and what the application in its thread sees."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apps.core.threaded_wsgi import ThreadedWSGI


def scope(headers: list[tuple[bytes, bytes]] | None = None, method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/api/things",
        "query_string": b"a=1",
        "root_path": "",
        "headers": headers or [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def feeder(*chunks: bytes) -> Any:
    pending = list(chunks)
    received: list[int] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        if not pending:
            return {"type": "http.disconnect"}
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    receive.calls = received  # type: ignore[attr-defined]
    return receive


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


class Answer:
    """A WSGI response like Django's: iterable, with `streaming` and `close`."""

    def __init__(self, chunks: list[bytes], streaming: bool = False) -> None:
        self.chunks = chunks
        self.streaming = streaming
        self.closed_in: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed_in = threading.current_thread().name


async def test_the_body_reaches_the_application_and_the_answer_comes_back_whole() -> None:
    seen: dict[str, Any] = {}
    answer = Answer([b'{"id": ', b"1}"])

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        seen["method"] = environ["REQUEST_METHOD"]
        seen["query"] = environ["QUERY_STRING"]
        seen["host"] = environ["HTTP_HOST"]
        seen["thread"] = threading.current_thread().name
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Seq", "7")])
        return answer

    body = b'{"content": "hello"}'
    headers = [(b"host", b"acme.localhost"), (b"content-length", str(len(body)).encode())]
    sent = Sent()
    await ThreadedWSGI(app, workers=2, max_body=1024)(
        scope(headers), feeder(body[:5], body[5:]), sent
    )

    assert seen == {
        "body": body,
        "method": "POST",
        "query": "a=1",
        "host": "acme.localhost",
        "thread": seen["thread"],
    }
    assert seen["thread"].startswith("http")
    assert sent.messages == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"x-seq", b"7")],
        },
        {"type": "http.response.body", "body": b'{"id": 1}'},
    ]
    # Django's request_finished (which puts the thread's connection back) ran in the
    # request's own thread, after the answer was complete.
    assert answer.closed_in == seen["thread"]


async def test_a_body_over_the_limit_is_not_read_and_the_application_answers() -> None:
    """The 413 comes from BodyLimitMiddleware, which sees the declared length."""
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen["length"] = environ["CONTENT_LENGTH"]
        seen["read"] = environ["wsgi.input"].read()
        start_response("413 Payload Too Large", [])
        return Answer([b"too large"])

    receive = feeder(b"x" * 2048)
    sent = Sent()
    await ThreadedWSGI(app, workers=1, max_body=1024)(
        scope([(b"content-length", b"2048")]), receive, sent
    )
    assert receive.calls == []
    assert seen == {"length": "2048", "read": b""}
    assert sent.messages[0]["status"] == 413
    assert sent.body == b"too large"


@pytest.mark.parametrize("length", [None, b"", b"abc", b"-5"])
async def test_no_usable_length_means_no_body(length: bytes | None) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen["read"] = environ["wsgi.input"].read()
        start_response("400 Bad Request", [])
        return Answer([])

    headers = [] if length is None else [(b"content-length", length)]
    receive = feeder(b"ignored")
    sent = Sent()
    await ThreadedWSGI(app, workers=1, max_body=1024)(scope(headers), receive, sent)
    assert seen == {"read": b""}
    assert receive.calls == []
    assert sent.messages[0]["status"] == 400


async def test_a_client_gone_before_its_body_arrived_leaves_the_application_a_short_body() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen["read"] = environ["wsgi.input"].read()
        start_response("400 Bad Request", [])
        return Answer([])

    sent = Sent()
    await ThreadedWSGI(app, workers=1, max_body=1024)(
        scope([(b"content-length", b"10")]), feeder(), sent
    )
    assert seen == {"read": b""}


async def test_a_streamed_answer_is_produced_no_faster_than_the_client_takes_it() -> None:
    """Files and exports: chunk by chunk, the thread waiting for each to be sent."""
    produced: list[int] = []
    release = asyncio.Event()
    sends: list[dict[str, Any]] = []
    seen_when_held: list[list[int]] = []

    def chunks() -> Iterator[bytes]:
        for number in range(4):
            produced.append(number)
            yield f"chunk{number};".encode()

    answer = Answer([], streaming=True)
    answer.chunks = chunks()  # type: ignore[assignment]

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/csv")])
        return answer

    async def send(message: dict[str, Any]) -> None:
        sends.append(message)
        if message.get("body") == b"chunk1;":
            seen_when_held.append(list(produced))
            await release.wait()

    task = asyncio.ensure_future(
        ThreadedWSGI(app, workers=1, max_body=1024)(scope(method="GET"), feeder(), send)
    )
    while not seen_when_held:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert produced == [0, 1]  # the third chunk waits for the second to leave
    release.set()
    await task
    assert seen_when_held == [[0, 1]]
    assert [m["type"] for m in sends] == ["http.response.start"] + ["http.response.body"] * 5
    assert b"".join(m.get("body", b"") for m in sends[1:]) == b"chunk0;chunk1;chunk2;chunk3;"
    assert sends[-1] == {"type": "http.response.body", "body": b""}
    assert answer.closed_in is not None and answer.closed_in.startswith("http")


async def test_an_application_error_reaches_the_server_and_the_answer_is_still_closed() -> None:
    answer = Answer([])

    def broken() -> Iterator[bytes]:
        yield b"part"
        raise RuntimeError("broken answer")

    answer.chunks = broken()  # type: ignore[assignment]

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return answer

    sent = Sent()
    with pytest.raises(RuntimeError, match="broken answer"):
        await ThreadedWSGI(app, workers=1, max_body=1024)(scope(method="GET"), feeder(), sent)
    assert sent.messages == []  # the server answers 500 itself
    assert answer.closed_in is not None


async def test_only_http_is_served() -> None:
    with pytest.raises(ValueError, match="HTTP only"):
        await ThreadedWSGI(lambda e, s: [], workers=1, max_body=1)(
            {"type": "websocket"}, feeder(), Sent()
        )
