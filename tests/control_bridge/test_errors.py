"""Bridge errors that other layers share (one NotFound), and the one status vocabulary."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.runtime import state
from agent.server.rpc_methods import CancelParams, RunParams
from control_bridge import contract as c
from control_bridge.embedded import EmbeddedControlPlane
from control_bridge.errors import BridgeError, NotFound
from control_bridge.protocol import ControlPlaneBase


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


def test_status_literals_live_in_the_contract() -> None:
    assert state.TERMINAL is c.TERMINAL_STATUSES and state.Status is c.RunStatus
    assert state.RunState(run_id="r", session_id="s", thread_id="t", status="canceled").terminal


def test_in_process_is_declared_on_the_base() -> None:
    assert ControlPlaneBase.in_process is False and EmbeddedControlPlane.in_process is True
