"""The ControlPlane protocol: what the run loop needs from the platform, whatever the transport.

The embedded control plane (in-process SQLite) and the JSON-RPC client both implement it by subclassing
`ControlPlaneBase` and providing `call`, so the loop never knows which one it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TypeVar

from control_bridge import contract as c

R = TypeVar("R", bound=c.WireModel)


class ControlPlaneBase(ABC):
    """Typed methods over one generic `call`."""

    in_process: ClassVar[bool] = False
    """True for a plane in this process sharing DATA_DIR: it gets no event copies and no checkpoint mirror."""

    @abstractmethod
    async def call(self, method: str, params: c.WireModel) -> c.WireModel:
        """Invokes a contract method; returns the method's result model or raises BridgeError."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Releases what the implementation created."""

    async def _typed(self, method: str, params: c.WireModel, result_type: type[R]) -> R:
        result = await self.call(method, params)
        assert isinstance(result, result_type), f"{method} returned {type(result).__name__}"
        return result

    async def run_bootstrap(self, p: c.RunBootstrapParams) -> c.RunBootstrapResult:
        return await self._typed("run.bootstrap", p, c.RunBootstrapResult)

    async def run_config(self, p: c.RunConfigParams) -> c.RunConfigResult:
        return await self._typed("run.config", p, c.RunConfigResult)

    async def conversation_history(self, p: c.ConversationHistoryParams) -> c.ConversationHistoryResult:
        return await self._typed("conversation.history", p, c.ConversationHistoryResult)

    async def tools_catalog(self, p: c.ToolsCatalogParams) -> c.ToolsCatalogResult:
        return await self._typed("tools.catalog", p, c.ToolsCatalogResult)

    async def tools_execute(self, p: c.ToolsExecuteParams) -> c.ToolsExecuteResult:
        return await self._typed("tools.execute", p, c.ToolsExecuteResult)

    async def tools_cleanup(self, p: c.ToolsCleanupParams) -> c.ToolsCleanupResult:
        return await self._typed("tools.cleanup", p, c.ToolsCleanupResult)

    async def skills_runtime_context(self, p: c.SkillsRuntimeContextParams) -> c.SkillsRuntimeContextResult:
        return await self._typed("skills.runtimeContext", p, c.SkillsRuntimeContextResult)

    async def run_heartbeat(self, p: c.RunHeartbeatParams) -> c.RunHeartbeatResult:
        return await self._typed("run.heartbeat", p, c.RunHeartbeatResult)

    async def run_is_cancelled(self, p: c.RunIsCancelledParams) -> c.RunIsCancelledResult:
        return await self._typed("run.isCancelled", p, c.RunIsCancelledResult)

    async def run_events_append(self, p: c.RunEventsAppendParams) -> c.RunEventsAppendResult:
        return await self._typed("run.events.append", p, c.RunEventsAppendResult)

    async def run_checkpoint_save(self, p: c.RunCheckpointSaveParams) -> c.RunCheckpointSaveResult:
        return await self._typed("run.checkpoint.save", p, c.RunCheckpointSaveResult)

    async def run_checkpoint_load(self, p: c.RunCheckpointLoadParams) -> c.RunCheckpointLoadResult:
        return await self._typed("run.checkpoint.load", p, c.RunCheckpointLoadResult)

    async def run_complete(self, p: c.RunCompleteParams) -> c.RunCompleteResult:
        return await self._typed("run.complete", p, c.RunCompleteResult)

    async def secrets_api_keys(self, p: c.SecretsApiKeysParams) -> c.SecretsApiKeysResult:
        return await self._typed("secrets.apiKeys", p, c.SecretsApiKeysResult)
