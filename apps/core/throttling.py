"""Rate limits that do not take the service down with their store."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class FailOpenUserRateThrottle(UserRateThrottle):
    """A per-user rate limit that lets requests through while its cache (Redis) cannot be
    reached: sending messages keeps working through a Redis outage, unthrottled, and a
    warning is logged for each request let through."""

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("Rate limit store unreachable, %s not throttled: %s", self.scope, error)
            return True
