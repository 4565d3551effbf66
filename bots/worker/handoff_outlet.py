"""The handoff package's outlet into this process's outbox (`handoff.contracts.Outlet`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bots.messages import PendingSend, decode_outbound
from bots.worker.outbox import Outbox


class StoredReplies:
    """The handoff package's outlet: replies it stored as pending transcript rows (agent
    messages, the CSAT question) go to this process's outbox at once; a process without an
    outbox (a gateway) leaves them to a worker's outbox sweeper."""

    def __init__(self, outbox: Callable[[], Outbox | None]) -> None:
        self._outbox = outbox

    @property
    def live(self) -> bool:
        return self._outbox() is not None

    def dispatch(
        self,
        row_id: int,
        channel: str,
        recipient_id: str,
        body: dict[str, Any],
        last_inbound_at: datetime | None,
    ) -> None:
        outbox = self._outbox()
        if outbox is not None:
            send = PendingSend(row_id, channel, recipient_id, decode_outbound(body))
            outbox.dispatch(send, last_inbound_at=last_inbound_at)
