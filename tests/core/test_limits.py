"""Limits count in Redis from every thread of every process, each thread on a connection
of its own; with Redis away they count in the process instead of refusing traffic."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

from apps.core import limits
from tests.security.servers import PrivateRedis


def test_hits_from_several_threads_count_against_one_limit(settings: Any) -> None:
    assert settings.LIMITS_REDIS_URL  # the suite counts in Redis (database 1)
    answers: list[float | None] = []
    clients: set[int] = set()
    lock = threading.Lock()

    def sender() -> None:
        mine = limits._scripts()
        assert mine is not None
        for _ in range(3):
            answer = limits.hit("test-threads", "user-1", "7/min")
            with lock:
                answers.append(answer)
                clients.add(id(mine["client"]))

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(answers) == 9
    assert sum(answer is None for answer in answers) == 7  # the limit holds across threads
    assert all(0 < answer <= 60 for answer in answers if answer is not None)
    assert len(clients) == 3  # a connection per thread
    assert limits.hit("test-threads", "user-2", "7/min") is None  # counted per ident


def test_with_redis_away_limits_count_in_this_process(settings: Any, caplog: Any) -> None:
    settings.LIMITS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    answers = [limits.hit("test-away", "user-1", "2/min") for _ in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2] is not None and answers[2] > 0
    assert "Redis unreachable" in caplog.text
    assert limits.SocketLeases.acquire(7, "socket-a", 1)
    assert not limits.SocketLeases.acquire(7, "socket-b", 1)
    limits.SocketLeases.release("socket-a")
    assert limits.SocketLeases.acquire(7, "socket-b", 1)
    limits.SocketLeases.release("socket-b")


def test_a_thread_counts_in_redis_again_once_redis_is_back(settings: Any) -> None:
    """A thread's connection breaks when Redis stops: the next checks count here, and once
    Redis answers again the same thread counts there again."""
    redis_ = PrivateRedis()
    redis_.start()
    try:
        settings.LIMITS_REDIS_URL = redis_.url
        assert limits.hit("test-back", "user-1", "1/min") is None
        assert limits.hit("test-back", "user-1", "1/min") is not None  # in Redis
        redis_.stop()
        assert limits.hit("test-back", "user-2", "1/min") is None  # here, Redis away
        redis_.start()  # empty: a new server
        assert limits.hit("test-back", "user-1", "1/min") is None
        assert limits.hit("test-back", "user-1", "1/min") is not None
        counted = redis.Redis.from_url(redis_.url).get(limits._key("test-back", "user-1"))
        assert counted == b"2"  # both counted in the new Redis, not here
    finally:
        redis_.stop()


def test_a_forked_child_checks_limits_on_a_connection_of_its_own(settings: Any) -> None:
    """A Celery worker forks from a parent that may have checked a limit already: the
    child must not talk on the parent's connection (their replies would mix)."""
    parent = limits._scripts()
    assert parent is not None
    assert limits.hit("test-fork", "user-1", "10/min") is None
    parent_port = parent["client"].connection._sock.getsockname()[1]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its connection's port and whether its checks count
        try:
            answer = limits.hit("test-fork", "user-1", "10/min")
            child = limits._scripts()
            port = child["client"].connection._sock.getsockname()[1] if child else 0
            os.write(write, f"{port} {answer}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        port, answer = pipe.read().split()
    os.waitpid(pid, 0)
    assert int(port) not in (0, parent_port)
    assert answer == "None"
    assert limits.hit("test-fork", "user-1", "10/min") is None  # the parent's still works
    counted = redis.Redis.from_url(settings.LIMITS_REDIS_URL).get(
        limits._key("test-fork", "user-1")
    )
    assert counted == b"3"
