"""What other layers share from the bridge: one NotFound, one RunIdParams."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.server.rpc_methods import CancelParams, RunParams
from control_bridge import contract as c
from control_bridge.errors import BridgeError, NotFound


def test_not_found_is_one_class_for_lookups_and_the_wire() -> None:
    error = NotFound("ep:9")
    assert isinstance(error, LookupError) and isinstance(error, BridgeError)
    assert str(error) == "ep:9" and error.to_error()["code"] == -32004


def test_run_params_are_the_contracts_run_reference_but_strict() -> None:
    assert issubclass(RunParams, c.RunIdParams) and issubclass(CancelParams, c.RunIdParams)
    assert RunParams.model_validate({"runId": "r1"}).run_id == "r1"
    assert c.RunIdParams.model_validate({"runId": "r1", "typo": 1}).run_id == "r1"  # the wire ignores extras
    with pytest.raises(ValidationError):
        RunParams.model_validate({"runId": "r1", "typo": 1})  # the container's own methods refuse them
    with pytest.raises(ValidationError):
        RunParams.model_validate({"runId": ""})
