"""Turning loose params (a model or a mapping) into the exact contract model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from control_bridge import contract as c
from control_bridge.errors import InvalidParams

M = TypeVar("M", bound=c.WireModel)


def coerce_params(model: type[M], params: Any) -> M:
    """Validates params (a model or a mapping) into `model`; failures become InvalidParams without echoing
    the input (which may be huge or secret)."""
    if isinstance(params, model):
        return params
    if isinstance(params, c.WireModel):
        params = params.model_dump(by_alias=True)
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidParams("params must be an object")
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        errors = [
            {"loc": ".".join(str(x) for x in e["loc"])[:200], "msg": e["msg"][:200]}
            for e in exc.errors()[:10]
        ]
        raise InvalidParams("invalid params", data={"errors": errors}) from None
