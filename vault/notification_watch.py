"""`WatchSettings`: the bounds on `WatchNotifications` (vault/server/rpcs/notifications.py),
as the configuration gives them (vault/config.py) and the service keeps them
(vault/service/notifications.py). Plain values only: nothing here watches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """How many watches a server follows at once (beyond: RESOURCE_EXHAUSTED), how often
    each polls the outbox while idle (from `poll_min_seconds`, doubling to
    `poll_max_seconds`), and the longest one lasts (then it ends, OK, to be resumed)."""

    max_watchers: int = 256
    poll_min_seconds: float = 0.5
    poll_max_seconds: float = 5.0
    max_seconds: float = 900.0
