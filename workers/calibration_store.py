"""Where online item-difficulty estimates live: one Redis hash per (model version, bank).

Why Redis and not `Item.difficulty_prior`: that column is the author's prior (the start of
every estimate, and what a new model starts from again); the estimates are in one model's
logit scale, so they are keyed by model version and simply restart after a promotion; and a
class answering the same question at once would make the item row a write hot spot.

Idempotent per event: the estimate and an "applied" marker for the event are written in one
MULTI/EXEC under WATCH, so a redelivered event (or a concurrent worker on the same item) never
folds the same answer in twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from lti_tool.core import redis_keys
from meta_engine.model.item_calibration import ItemEstimate

BANK_KEY = redis_keys.ITEM_CALIBRATION
EVENT_KEY = redis_keys.ITEM_CALIBRATION_EVENT
EVENT_TTL_S = 14 * 86400  # far longer than any redelivery window

Update = Callable[[ItemEstimate | None], ItemEstimate]


class ItemCalibrationStore:
    def __init__(self, client: redis.Redis, version: str) -> None:
        self.client = client
        self.version = version

    def _bank(self, bank_id: int) -> str:
        return BANK_KEY.format(version=self.version, bank=bank_id)

    def load(self, bank_id: int) -> dict[int, ItemEstimate]:
        raw = self.client.hgetall(self._bank(bank_id))
        return {int(k): ItemEstimate.from_dict(json.loads(v)) for k, v in raw.items()}

    def apply(self, bank_id: int, event_id: str, item_id: int, update: Update) -> bool:
        """Fold one event's answer into item_id's estimate once. False if already applied."""
        bank, marker = self._bank(bank_id), EVENT_KEY.format(version=self.version,
                                                             event=event_id)
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(bank, marker)
                    if pipe.exists(marker):
                        pipe.unwatch()
                        return False
                    raw = pipe.hget(bank, str(item_id))
                    current = ItemEstimate.from_dict(json.loads(raw)) if raw else None
                    new = update(current)
                    pipe.multi()
                    pipe.hset(bank, str(item_id), json.dumps(new.to_dict()))
                    pipe.set(marker, item_id, ex=EVENT_TTL_S)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue  # someone else updated this bank meanwhile: recompute
