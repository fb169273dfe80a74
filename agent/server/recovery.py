"""At start, the embedded control plane's unfinished runs are taken up again (after a kill -9, say).

With the embedded plane this container owns every run it holds, and nobody else will resume them: each
pending, running or paused run is driven again (from its checkpoint; from its input when the log never saw
it), and a suspended one is loaded and keeps waiting for its answers. At most MAX_CONCURRENT_RUNS are driven
at once: the rest wait in start order and are started as slots free. A remote control plane re-dispatches
runs itself (by lease), so nothing is recovered with one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING

from control_bridge import contract as c

if TYPE_CHECKING:
    from agent.server.services import Services

logger = logging.getLogger(__name__)

UNFINISHED: tuple[c.RunStatus, ...] = ("pending", "running", "paused", "suspended")
SLOT_POLL_S = 0.5


async def recover_runs(services: Services, limit: int = 10_000) -> Counter[str]:
    """Adopts every unfinished run of the embedded plane; returns how many ended up how."""
    if services.embedded is None:
        return Counter()
    plane = await services.embedded.plane()
    records: list[c.RunRecord] = []
    for status in UNFINISHED:
        records += await plane.list_runs({"status": status, "limit": limit})
    outcomes: Counter[str] = Counter()
    waiting = list(records)
    while waiting:
        record = waiting.pop(0)
        outcome = await services.manager.adopt(record.run_id, record.lease_version)
        if outcome == "busy":
            if not services.manager.accepting:
                break
            waiting.insert(0, record)
            await asyncio.sleep(SLOT_POLL_S)
            continue
        outcomes[outcome] += 1
        if outcome != "known":
            logger.info(
                "run %s (%s at the control plane) %s after the restart", record.run_id, record.status, outcome
            )
    return outcomes
