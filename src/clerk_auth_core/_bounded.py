"""Bounded dicts without a lock: the one eviction rule every table of the core uses.

A table is a plain ``dict`` whose insertion order is its age. Before a new key goes
in, the oldest entries beyond the bound leave (a few per insert, so no insert pays
for many). Lock-free: each step is a single dict operation, atomic in CPython (under
the GIL, and with per-object locking in free-threaded builds); a concurrent eviction
may remove the same key first (``KeyError``) or change the table under the iterator
(``RuntimeError``), which only ends this eviction early, never corrupts the table or
raises. Under a race a table can overshoot its bound by the number of threads
inserting at that moment; the next inserts shrink it back.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["EVICT_BATCH", "evict_oldest", "remember"]

#: At most this many entries are evicted by one insert (the rest by the next ones).
EVICT_BATCH: Final = 4


def evict_oldest(table: dict[Any, Any], key: Any, limit: int) -> None:
    """Make room for ``key`` in ``table``: drop the oldest entries beyond ``limit``
    (at most :data:`EVICT_BATCH`), unless ``key`` is already there."""
    excess = len(table) - limit + 1
    if excess > 0 and key not in table:
        for _ in range(min(excess, EVICT_BATCH)):
            try:
                del table[next(iter(table))]
            except (KeyError, RuntimeError, StopIteration):
                break


def remember(table: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``table[key] = value``, first evicting the oldest entries beyond ``limit``."""
    evict_oldest(table, key, limit)
    table[key] = value
