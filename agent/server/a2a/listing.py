"""ListTasks: the caller's tasks, newest status first, in cursor pages."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from a2a.types import ListTasksRequest, ListTasksResponse, TaskState
from a2a.utils.errors import InvalidParamsError
from a2a.utils.task import apply_history_length
from agent.server.a2a.mapping import STATE_EVENT_TYPES, TaskFold

if TYPE_CHECKING:
    from agent.server.a2a.handler import RunLogRequestHandler

DEFAULT_PAGE = 50
MAX_PAGE = 100
SCAN_LIMIT = 2000
"""At most this many of the caller's newest tasks are considered (older ones are not listed)."""


def _cursor(ts_ms: int, task_id: str) -> str:
    return base64.urlsafe_b64encode(f"{ts_ms}|{task_id}".encode()).decode()


def _parse_cursor(token: str) -> tuple[int, str]:
    try:
        ts, _, task_id = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return int(ts), task_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParamsError(message="invalid pageToken") from None


def list_tasks(handler: RunLogRequestHandler, params: ListTasksRequest, owner: str) -> ListTasksResponse:
    size = params.page_size if params.HasField("page_size") else DEFAULT_PAGE
    if size < 1 or size > MAX_PAGE:
        raise InvalidParamsError(message=f"pageSize must be between 1 and {MAX_PAGE}")
    after = _parse_cursor(params.page_token) if params.page_token else None
    since_ms = (
        params.status_timestamp_after.ToMilliseconds() if params.HasField("status_timestamp_after") else None
    )
    rows: list[tuple[int, str, TaskFold]] = []
    for record in handler.index.tasks(owner, params.context_id or None, SCAN_LIMIT):
        fold = TaskFold(record.task_id, record.context_id, record.created_ts)
        if record.snapshot is not None:
            fold.state = record.snapshot.status.state
        else:
            for event in handler.services.log.read(
                record.task_id, after=0, limit=100_000, types=STATE_EVENT_TYPES
            ):
                fold.apply(event)
        if params.status != TaskState.TASK_STATE_UNSPECIFIED and fold.state != params.status:
            continue
        ts_ms = int(fold.status_ts * 1000)
        if since_ms is not None and ts_ms < since_ms:
            continue
        rows.append((ts_ms, record.task_id, fold))
    rows.sort(key=lambda r: (-r[0], r[1]))
    total = len(rows)
    if after is not None:
        rows = [r for r in rows if (-r[0], r[1]) > (-after[0], after[1])]
    page = rows[:size]
    response = ListTasksResponse(page_size=size, total_size=total)
    for _, task_id, _fold in page:
        found = handler.index.get(task_id)
        assert found is not None
        task = handler._task(found, handler._fold(found))
        if not params.include_artifacts:
            task.ClearField("artifacts")
        response.tasks.append(apply_history_length(task, params))
    response.next_page_token = _cursor(page[-1][0], page[-1][1]) if len(rows) > size else ""
    return response
