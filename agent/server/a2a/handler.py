"""The A2A request handler over our runs: task = run, contextId = thread, events from the durable run log.

It implements the a2a-sdk's `RequestHandler`, so the SDK's JSON-RPC dispatcher does the wire (parsing,
A2A-Version, ProtoJSON, error objects with ErrorInfo, SSE framing). The SDK's own handler keeps tasks in a
task store and streams from in-memory queues; ours reads everything from the run log, so every subscriber
sees the same events in the same order, and a subscription after a restart still gets the rest.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers.request_handler import RequestHandler, validate_request_params
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import (
    A2AError,
    ExtendedAgentCardNotConfiguredError,
    InternalError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length
from agent.runtime.requests import ContinueRequest, RunError, StartRequest
from agent.server.a2a.index import A2AIndex, TaskRecord
from agent.server.a2a.inputs import answer_for, render_input
from agent.server.a2a.listing import list_tasks
from agent.server.a2a.mapping import TERMINAL_STATES, StreamEvent, TaskFold
from agent.server.a2a.tail import RunLogTail

if TYPE_CHECKING:
    from agent.server.services import Services

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
CANCEL_WAIT_S = 10.0


def _typed_errors(fn: F) -> F:
    """Anything that is not an A2A error becomes -32603 without exception text (it is logged here)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except A2AError:
            raise
        except Exception:
            logger.exception("A2A %s failed", fn.__name__)
            raise InternalError(message="internal error") from None

    return wrapper  # type: ignore[return-value]


G = TypeVar("G", bound=Callable[..., AsyncGenerator[Any]])


def _typed_stream_errors(fn: G) -> G:
    """The same for streams: an unexpected failure becomes -32603 without exception text."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any]:
        inner = fn(*args, **kwargs)
        try:
            async for item in inner:
                yield item
        except A2AError:
            raise
        except Exception:
            logger.exception("A2A %s failed", fn.__name__)
            raise InternalError(message="internal error") from None
        finally:
            await inner.aclose()

    return wrapper  # type: ignore[return-value]


def owner_of(context: ServerCallContext) -> str:
    return str(context.state.get("owner") or "anonymous")


class RunLogRequestHandler(RequestHandler):
    def __init__(self, services: Services, index: A2AIndex, *, tag_message_ids: bool) -> None:
        self.services = services
        self.index = index
        self.tail = RunLogTail(services.log)
        self.tag_message_ids = tag_message_ids
        """Show the model each message's id (only for MODEL=a2a-conformance, whose TCK scenarios need it)."""

    # --- reading -----------------------------------------------------------------------------------------
    def _record(self, task_id: str, context: ServerCallContext) -> TaskRecord:
        record = self.index.get(task_id) if task_id else None
        if record is None or record.owner != owner_of(context):
            raise TaskNotFoundError(message=f"no task {task_id!r}")
        return record

    def _fold(self, record: TaskRecord) -> TaskFold:
        fold = TaskFold(record.task_id, record.context_id, record.created_ts)
        if record.snapshot is not None:
            fold.state = record.snapshot.status.state
            fold.status_ts = record.created_ts
            fold.status_message = record.snapshot.status.message
            fold.closed = True
            return fold
        self.tail.fold_all(fold)
        return fold

    def _task(self, record: TaskRecord, fold: TaskFold) -> Task:
        return fold.task(self.index.messages(record.task_id))

    @validate_request_params
    @_typed_errors
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        validate_history_length(params)
        record = self._record(params.id, context)
        return apply_history_length(self._task(record, self._fold(record)), params)

    @validate_request_params
    @_typed_errors
    async def on_list_tasks(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        validate_history_length(params)
        return list_tasks(self, params, owner_of(context))

    # --- sending -----------------------------------------------------------------------------------------
    async def _submit(self, params: SendMessageRequest, context: ServerCallContext) -> tuple[TaskRecord, int]:
        """Starts a run (new task) or answers the task's question (follow-up); returns the task and where its
        stream starts (0: from nothing; -1: from everything committed, see `_fold_until`)."""
        validate_history_length(params.configuration)
        message = params.message
        if message.role != Role.ROLE_USER:
            raise InvalidParamsError(message="message.role must be ROLE_USER")
        owner = owner_of(context)
        if message.task_id:
            return await self._follow_up(self._record(message.task_id, context), message)
        text = render_input(message, tag_id=self.tag_message_ids)
        context_id = message.context_id or f"ctx-{uuid.uuid4()}"
        known_owner = self.index.context_owner(context_id)
        if known_owner is not None and known_owner != owner:
            raise InvalidParamsError(message=f"contextId {context_id!r} is not yours")
        try:
            result = await self.services.manager.start(
                StartRequest(input=text, thread_id=context_id, labels={"channel": "a2a"})
            )
        except RunError as exc:
            if exc.code != "capacity":
                raise InvalidParamsError(message=exc.message) from None
            return self._refused(context_id, owner, message, exc.message), 0
        except ValueError as exc:  # a contextId our threads cannot take (length, characters)
            raise InvalidParamsError(message=f"invalid contextId: {exc}") from None
        stored = message.__class__()
        stored.CopyFrom(message)
        stored.task_id, stored.context_id = result.run_id, context_id
        self.index.add_task(result.run_id, context_id, owner, stored)
        record = self.index.get(result.run_id)
        assert record is not None
        return record, 0

    def _refused(self, context_id: str, owner: str, message: Message, why: str) -> TaskRecord:
        """Refused at admission (at capacity): a rejected task that never became a run."""
        task_id = f"rejected-{uuid.uuid4()}"
        fold = TaskFold(task_id, context_id, 0.0)
        fold.state = TaskState.TASK_STATE_REJECTED
        fold.status_message = Message(
            message_id=f"{task_id}:0", task_id=task_id, context_id=context_id, role=Role.ROLE_AGENT
        )
        fold.status_message.parts.add(text=f"refused at admission: {why}; try again later")
        stored = Message()
        stored.CopyFrom(message)
        stored.task_id, stored.context_id = task_id, context_id
        self.index.add_task(task_id, context_id, owner, stored, snapshot=fold.task([]))
        record = self.index.get(task_id)
        assert record is not None
        return record

    async def _follow_up(self, record: TaskRecord, message: Message) -> tuple[TaskRecord, int]:
        if message.context_id and message.context_id != record.context_id:
            raise InvalidParamsError(
                message=f"contextId {message.context_id!r} does not match task {record.task_id}'s context "
                f"{record.context_id!r}"
            )
        fold = self._fold(record)
        if fold.terminal:
            raise UnsupportedOperationError(
                message=f"task {record.task_id} is {TaskState.Name(fold.state)}: it takes no more messages"
            )
        if fold.state != TaskState.TASK_STATE_INPUT_REQUIRED or not fold.pending:
            raise UnsupportedOperationError(
                message=f"task {record.task_id} is still working and asked nothing; wait for it, or cancel it"
            )
        first = fold.pending[0]
        decision = answer_for(first.kind, message, tag_id=self.tag_message_ids)
        stored = Message()
        stored.CopyFrom(message)
        stored.context_id = record.context_id
        self.index.add_message(record.task_id, stored)
        try:
            await self.services.manager.continue_(
                ContinueRequest(run_id=record.task_id, await_id=first.await_id, decision=decision)
            )
        except RunError as exc:
            raise UnsupportedOperationError(message=exc.message) from None
        return record, -1

    async def _ensure_driven(self, task_id: str) -> None:
        """After a restart nothing drives an unfinished run until someone asks: a subscriber does."""
        manager = self.services.manager
        try:
            handle = manager.get(task_id)
        except RunError:
            return
        state = handle.state
        if handle.live or (state is not None and (state.terminal or state.status in ("suspended", "paused"))):
            return
        if state is not None or not self.services.log.finished(
            task_id
        ):  # (no checkpoint yet: from the start)
            try:
                await manager.start(StartRequest(run_id=task_id))
            except RunError as exc:
                logger.warning("could not resume run %s for a subscriber: %s", task_id, exc.message)

    @validate_request_params
    @_typed_errors
    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext) -> Task | Message:
        record, mark = await self._submit(params, context)
        if record.snapshot is not None:
            return apply_history_length(record.snapshot, params.configuration)
        fold = self._fold_until(record, mark)
        if not params.configuration.return_immediately:
            await self.tail.wait_closed(fold, record.task_id)
        if fold.reply is not None:
            return fold.reply
        return apply_history_length(self._task(record, fold), params.configuration)

    def _fold_until(self, record: TaskRecord, mark: int) -> TaskFold:
        """A new task's stream starts from nothing (mark 0: submitted); a follow-up's (mark -1) from all that is
        committed, the logged answer included (so it starts working, or with the next question)."""
        fold = TaskFold(record.task_id, record.context_id, record.created_ts)
        self.tail.fold_all(fold, until=mark if mark >= 0 else None)
        return fold

    @validate_request_params
    @_typed_stream_errors
    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[StreamEvent]:
        record, mark = await self._submit(params, context)
        if record.snapshot is not None:
            yield apply_history_length(record.snapshot, params.configuration)
            return
        fold = self._fold_until(record, mark)
        yield apply_history_length(self._task(record, fold), params.configuration)
        async for event in self.tail.follow(fold, record.task_id):
            yield event
        if fold.reply is not None:
            yield fold.reply

    @validate_request_params
    @_typed_stream_errors
    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[StreamEvent]:
        record = self._record(params.id, context)
        fold = self._fold(record)
        if fold.terminal:
            raise UnsupportedOperationError(
                message=f"task {record.task_id} is {TaskState.Name(fold.state)}: there is nothing to subscribe to"
            )
        await self._ensure_driven(record.task_id)
        yield self._task(record, fold)
        async for event in self.tail.follow(fold, record.task_id, terminal_only=True):
            yield event

    # --- cancel ------------------------------------------------------------------------------------------
    @validate_request_params
    @_typed_errors
    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext) -> Task | None:
        record = self._record(params.id, context)
        fold = self._fold(record)
        if fold.terminal:
            raise TaskNotCancelableError(
                message=f"task {record.task_id} is already {TaskState.Name(fold.state)}"
            )
        try:
            await self.services.manager.cancel(record.task_id, "a2a_cancel")
        except RunError as exc:
            raise TaskNotCancelableError(message=exc.message) from None
        try:
            await asyncio.wait_for(self.tail.wait_closed(fold, record.task_id, terminal=True), CANCEL_WAIT_S)
        except TimeoutError:
            pass
        task = self._task(record, fold)
        if task.status.state not in TERMINAL_STATES:
            raise TaskNotCancelableError(message=f"task {record.task_id} did not stop in time; try again")
        return task

    # --- not offered -------------------------------------------------------------------------------------
    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError(message="this agent does not send push notifications")

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError(message="this agent does not send push notifications")

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        raise PushNotificationNotSupportedError(message="this agent does not send push notifications")

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise PushNotificationNotSupportedError(message="this agent does not send push notifications")

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        raise ExtendedAgentCardNotConfiguredError(message="this agent has no extended agent card")
