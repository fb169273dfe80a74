"""Which model specs a run may name: the gate in front of the model factory.

`scripted:FILE` reads a file on the server. The operator's own MODEL may name any file (the operator chose
it), but a spec that arrives with a run (`/start`, `run.start`, `run.config`) may only name a file inside
SCRIPTS_DIR, resolved with symlinks followed; with SCRIPTS_DIR unset, per-run scripts are refused. Every
refusal reads the same whether the file exists or not, and no error repeats what a file contains, so the
server is neither a file-existence oracle nor a file reader.
"""

from __future__ import annotations

from pathlib import Path

from agent.models.errors import ModelConfigError
from agent.models.factory import ModelSpec, parse_model_spec
from agent.models.scripted import Script
from agent.redaction import redact

REFUSED = (
    "scripted models named by a run must be JSON script files inside SCRIPTS_DIR "
    "(the operator's directory for them; unset: none are accepted)"
)


def _refused(spec: str) -> ModelConfigError:
    return ModelConfigError(f"model {redact(spec)!r} refused: {REFUSED}")


def checked_spec(spec: str | None, *, operator_spec: str | None, scripts_dir: Path | None) -> ModelSpec:
    """The parsed spec, with a per-run script resolved to its absolute path inside SCRIPTS_DIR."""
    parsed = parse_model_spec(spec, check_files=False)
    if parsed.provider != "scripted" or (spec or "").strip() == (operator_spec or "").strip():
        return parsed
    if scripts_dir is None:
        raise _refused(spec or "")
    root = scripts_dir.resolve()
    try:
        path = (root / (parsed.script or "")).resolve()
    except (OSError, RuntimeError, ValueError):
        raise _refused(spec or "") from None
    if not path.is_relative_to(root) or path == root or not path.is_file():
        raise _refused(spec or "")
    return parsed.model_copy(update={"script": str(path)})


def load_script(spec: ModelSpec) -> Script:
    """Loads a per-run script; an invalid one is named, its contents never quoted."""
    try:
        return Script.load(spec.script or "")
    except (ValueError, OSError):
        raise ModelConfigError(
            f"model {redact(str(spec))!r} is not a valid script: a JSON object with a 'turns' list is expected"
        ) from None
