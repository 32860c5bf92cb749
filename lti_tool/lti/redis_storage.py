"""pylti1p3 launch-data storage in Redis, shared by every web process and worker."""

from __future__ import annotations

import json
from typing import Any

import redis
from pylti1p3.launch_data_storage.base import LaunchDataStorage

from lti_tool.core import redis_keys


class RedisLaunchDataStorage(LaunchDataStorage[Any]):
    _prefix = redis_keys.LAUNCH_DATA_PREFIX

    def __init__(self, client: redis.Redis, default_ttl_s: int) -> None:
        super().__init__()
        self._client = client
        self._default_ttl_s = default_ttl_s

    def get_session_cookie_name(self) -> str | None:
        # Launch data is addressed by launch id, not by a browser cookie.
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        raw = self._client.get(redis_keys.launch_data(key))
        return json.loads(raw) if raw is not None else None

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        self._client.set(
            redis_keys.launch_data(key), json.dumps(value), ex=exp or self._default_ttl_s
        )

    def check_value(self, key: str) -> bool:
        return bool(self._client.exists(redis_keys.launch_data(key)))
