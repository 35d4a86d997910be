"""Messages through the running `make cluster` (nginx, two workers, PgBouncer, Redis), as a
client sees them. Prints one JSON object.

    MESSAGE_RATE=100000/min make cluster   # the per-user message limit lifted
    .venv/bin/python bench/cluster.py [--seconds 10] [--senders 4] [--port 8080]

In each demo tenant (acme, globex) the player opens a support ticket; its admin holds two
sockets through nginx, joined to it; `--senders` clients per tenant
(the player's token) post messages over REST through nginx as fast as they are answered,
for `--seconds`. Reports REST sends per second with p50/p95, and the deliveries the four
sockets received (each message is expected by two sockets) with their p50/p99 latency
from the moment the POST left the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import urllib.request
from typing import Any

import websockets

PASSWORD = "demo-pass-123"


def rest(port: int, host: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {"Host": host, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def login(port: int, host: str, email: str) -> str:
    body = {"email": email, "password": PASSWORD}
    return str(rest(port, host, "POST", "/api/auth/login", body)["token"])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(len(ordered) * share), len(ordered) - 1)], 1) if values else 0.0


async def listen(port: int, host: str, token: str, channel: str, seen: list[float]) -> None:
    url = f"ws://{host}:{port}/ws/chat/?token={token}"
    async with websockets.connect(url, host="127.0.0.1") as socket:
        await socket.send(json.dumps({"event": "join_channel", "data": {"channelId": channel}}))
        async for text in socket:
            frame = json.loads(text)
            if frame["event"] == "new_message":
                sent = float(frame["data"]["content"].split()[-1])
                seen.append((time.time() - sent) * 1000)


async def send(port: int, host: str, token: str, channel: str, until: float) -> list[float]:
    path = f"/api/chat/channels/{channel}/messages"
    took: list[float] = []
    while time.monotonic() < until:
        started = time.monotonic()
        body = {"content": f"bench {time.time()}"}
        await asyncio.to_thread(rest, port, host, "POST", path, body, token)
        took.append((time.monotonic() - started) * 1000)
    return took


async def main(port: int, seconds: float, senders: int) -> dict[str, Any]:
    deliveries: list[float] = []
    listeners, sends = [], []
    for slug in ("acme", "globex"):
        host = f"{slug}.localhost"
        player = login(port, host, f"player@{slug}.test")
        body = {"type": "SUPPORT", "subject": "cluster bench"}
        channel = rest(port, host, "POST", "/api/chat/channels", body, player)["id"]
        admin = login(port, host, f"admin@{slug}.test")
        for _ in range(2):  # two sockets of the tenant admin, a participant of every ticket
            token = admin
            listeners.append(asyncio.create_task(listen(port, host, token, channel, deliveries)))
        sends.append((host, player, channel))
    await asyncio.sleep(1)  # the sockets joined
    until = time.monotonic() + seconds
    took = await asyncio.gather(
        *(send(port, h, t, c, until) for h, t, c in sends for _ in range(senders))
    )
    await asyncio.sleep(2)  # the last deliveries
    for task in listeners:
        task.cancel()
    answered = [ms for each in took for ms in each]
    return {
        "rest_sends_per_s": round(len(answered) / seconds, 1),
        "rest_send_p50_ms": percentile(answered, 0.5),
        "rest_send_p95_ms": percentile(answered, 0.95),
        "deliveries": len(deliveries),
        "deliveries_expected": 2 * len(answered),
        "delivery_p50_ms": percentile(deliveries, 0.5),
        "delivery_p99_ms": percentile(deliveries, 0.99),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--senders", type=int, default=4)
    options = parser.parse_args()
    print(json.dumps(asyncio.run(main(options.port, options.seconds, options.senders))))
