"""The banks an adapt worker process has loaded, kept while their revision stands.

Reading a 20,000-question bank and building its rows costs tens of milliseconds a batch; the
bank rarely changes between two batches. Every flush that changes a question gives its bank a
new random revision (lti_tool.core.db.revisions), so a bank is read again exactly when it
changed; a bank without a revision (made before revisions existed) is read every time. The
same tuple object comes back while the revision stands, which lets the engine adapter keep
what it built from it too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_BANKS = 32


@dataclass(frozen=True)
class Entry(Generic[T]):
    revision: str
    value: T


class BankCache(Generic[T]):
    """Per process: bank id -> what was loaded for it at one revision (least recently used
    dropped beyond `size`)."""

    def __init__(self, size: int = MAX_BANKS) -> None:
        self.size = size
        self._entries: OrderedDict[object, Entry[T]] = OrderedDict()

    def get(self, key: object, revision: str | None, load: Callable[[], T]) -> T:
        if revision is None:
            return load()
        hit = self._entries.get(key)
        if hit is not None and hit.revision == revision:
            self._entries.move_to_end(key)
            return hit.value
        value = load()
        self._entries[key] = Entry(revision, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
