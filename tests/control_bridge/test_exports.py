"""The public surface is pinned, and the contract's JSON Schema and README cover every method."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import control_bridge
from control_bridge import contract as c
from control_bridge.schema import contract_json_schema


def test_exported_members() -> None:
    assert sorted(control_bridge.__all__) == sorted(
        [
            "DEFAULT_TIMEOUTS",
            "AdminClient",
            "BridgeError",
            "Conflict",
            "ControlPlaneBase",
            "EmbeddedControlPlane",
            "EventForwarder",
            "Forbidden",
            "InvalidParams",
            "LeaseLost",
            "NotFound",
            "ProtocolError",
            "RateLimited",
            "RetryPolicy",
            "RpcControlPlane",
            "Unauthorized",
            "Unavailable",
            "contract",
            "contract_json_schema",
        ]
    )
    assert all(hasattr(control_bridge, name) for name in control_bridge.__all__)


def test_json_schema_covers_and_validates_the_wire() -> None:
    schema = contract_json_schema()
    json.dumps(schema)  # serialisable as printed by `agent contract --json`
    assert set(schema["methods"]) == set(c.METHODS) and set(schema["adminMethods"]) == set(c.ADMIN_METHODS)
    assert schema["errors"]["lease_lost"]["code"] == -32010
    execute = schema["methods"]["tools.execute"]
    good = {"runId": "r", "toolCall": {"id": "t", "name": "clock"}, "idempotencyKey": "k"}
    jsonschema.validate(good, execute["params"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"runId": "r"}, execute["params"])
    result = c.ToolsExecuteResult(tool_call_id="t", output={"x": 1}).model_dump(mode="json", by_alias=True)
    jsonschema.validate(result, execute["result"])


def test_readme_documents_every_method() -> None:
    readme = (Path(control_bridge.__file__).parent / "README.md").read_text()
    for name in [*c.METHODS, *c.ADMIN_METHODS]:
        assert f"`{name}`" in readme, name
