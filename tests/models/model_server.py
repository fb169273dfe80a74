"""The scripted model server for tests (re-exported from agent.models.fake_server, where the bench finds it).

Use it from any test folder::

    from agent.models.fake_server import Fault, ModelServer, Reply     # or: from tests.models.model_server import …

    @pytest.fixture(scope="session")
    def model_server():
        with ModelServer() as server:
            yield server

    def test_x(model_server):
        model_server.script([Reply(tool_calls=[{"name": "calc", "arguments": {"x": 1}}]), Reply(text="done")])
        # MODEL=openai-compatible:scripted@{model_server.url}  or  anthropic with base URL model_server.url
"""

from __future__ import annotations

from agent.models.fake_server import Fault, ModelServer, Recorded, Reply, ScriptItem, ToolCallReply

__all__ = ["Fault", "ModelServer", "Recorded", "Reply", "ScriptItem", "ToolCallReply"]
