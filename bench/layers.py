"""Fan-out through channels-redis: the core layer against the pub/sub layer.

One group of N members (each a receiving channel, as each WebSocket connection is); M
group messages sent; every member receives every message. Prints one JSON object per
layer: time to deliver everything, and the median send-to-receive latency.

    python bench/layers.py [--members 200] [--messages 50]

Needs Redis (`REDIS_URL`, default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


async def fan_out(layer, members: int, messages: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    group = f"bench.{time.monotonic_ns()}"
    channels = [await layer.new_channel() for _ in range(members)]
    for channel in channels:
        await layer.group_add(group, channel)
    latencies: list[float] = []

    async def drain(channel: str) -> None:
        for _ in range(messages):
            message = await layer.receive(channel)
            latencies.append(time.perf_counter() - message["sent"])

    receivers = [asyncio.create_task(drain(c)) for c in channels]
    await asyncio.sleep(0.2)  # receivers subscribed
    start = time.perf_counter()
    for n in range(messages):
        await layer.group_send(group, {"type": "chat.event", "n": n, "sent": time.perf_counter()})
    await asyncio.wait_for(asyncio.gather(*receivers), timeout=120)
    total = time.perf_counter() - start
    for channel in channels:
        await layer.group_discard(group, channel)
    return {
        "deliveries": members * messages,
        "total_s": round(total, 3),
        "deliveries_per_s": round(members * messages / total),
        "latency_ms_median": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    for name, cls in (("core", RedisChannelLayer), ("pubsub", RedisPubSubChannelLayer)):
        layer = cls(hosts=[url])
        result = await fan_out(layer, args.members, args.messages)
        print(
            json.dumps(
                {
                    "benchmark": "layer_fan_out",
                    "layer": name,
                    "members": args.members,
                    "messages": args.messages,
                    **result,
                }
            )
        )
        if hasattr(layer, "flush"):
            await layer.flush()
        if hasattr(layer, "close_pools"):
            await layer.close_pools()


if __name__ == "__main__":
    asyncio.run(main())
