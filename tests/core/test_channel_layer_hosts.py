"""The channel layer over several Redis servers (sharded by group) or behind Sentinel
(config/layer.py, deploy/SCALING.md)."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from config.layer import channel_layer_hosts


def test_one_redis_by_default():
    assert channel_layer_hosts({}, "redis://r:6379/0") == ["redis://r:6379/0"]


def test_several_redis_servers_are_listed_in_order():
    environ = {"CHANNEL_LAYER_REDIS_URLS": "redis://a:6379/0, redis://b:6379/0"}
    assert channel_layer_hosts(environ, "redis://r:6379/0") == [
        "redis://a:6379/0",
        "redis://b:6379/0",
    ]


def test_sentinel_names_the_master_and_its_sentinels():
    environ = {
        "REDIS_SENTINELS": "s1:26379,s2:26379",
        "REDIS_SENTINEL_MASTER": "events",
        "CHANNEL_LAYER_REDIS_URLS": "redis://ignored:6379/0",
    }
    assert channel_layer_hosts(environ, "redis://r:6379/0") == [
        {"sentinels": [("s1", 26379), ("s2", 26379)], "master_name": "events", "db": 0}
    ]


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")
def test_two_processes_layers_sharded_over_two_servers_deliver_every_group():
    """Two databases of the test Redis stand for two servers: every group's events reach
    the other layer instance (another process), whichever shard the group hashes to."""
    base = urlsplit(settings.REDIS_URL)
    hosts = [base._replace(path="/4").geturl(), base._replace(path="/5").geturl()]
    prefix = f"shardtest{os.getpid()}"
    groups = [f"t.acme.ch.{n}" for n in range(8)]

    async def scenario() -> set[str]:
        listener = RedisPubSubChannelLayer(hosts=hosts, prefix=prefix)
        sender = RedisPubSubChannelLayer(hosts=hosts, prefix=prefix)
        try:
            channel = await listener.new_channel()
            for group in groups:
                await listener.group_add(group, channel)
            for group in groups:
                await sender.group_send(group, {"type": "hub.frame", "group": group})
            got = set()
            while len(got) < len(groups):
                message = await asyncio.wait_for(listener.receive(channel), 5)
                got.add(message["group"])
            return got
        finally:
            await listener.flush()
            await sender.flush()

    assert asyncio.run(scenario()) == set(groups)
