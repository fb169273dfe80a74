"""A fake of the Takos Worker and its executor host, written from CONTRACT.md, on a real socket.

The host pipeline (§4: run-id header and Bearer check, token lookup in the slot named by the container-id
header or the run id, body caps, JSON checks, ids overwritten from the token, the endpoint registry, 410
for legacy endpoints on a v2 token, the central lease fence except for tool-cleanup), the endpoint
validation of §6/§9/§10, the revocation rules of §5 (lease loss revokes the lease's tokens, a 2xx
complete-run revokes every token of the run) and the dispatch of §1/§3 (a fresh token per dispatch, the
exact /start body and headers, the token upgraded to v2 only on a 2xx with runtimeProtocolVersion 2).
Every call is recorded, with the status it got.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.takos import worker_rules as rules

PREFIX = "/api/internal/v1/agent-control/"
LEGACY = frozenset({"add-message", "update-run-status", "run-fail", "run-reset"})
REGISTRY = frozenset(
    """heartbeat run-status run-record run-bootstrap run-fail run-reset run-config is-cancelled
    update-run-status complete-run engine-checkpoint-load engine-checkpoint-save run-event run-usage
    conversation-history add-message skill-runtime-context skill-catalog skill-plan tool-catalog
    tool-execute tool-cleanup api-keys""".split()
)
BODY_CAPS = {
    "run-event": 128 * 1024,
    "tool-execute": 512 * 1024,
    "complete-run": 10 * 1024 * 1024,
    "engine-checkpoint-save": 17 * 1024 * 1024,
}
UNCERTAIN = (
    "side-effect outcome is uncertain; verify remote state before issuing a new operation; "
    "automatic replay is blocked"
)


@dataclass
class Token:
    run_id: str
    service_id: str
    lease_version: int
    tier: int
    container_id: str
    v2: bool = False
    revoked: bool = False
    last_heartbeat: float = field(default_factory=time.monotonic)


@dataclass
class Run:
    run_id: str
    thread_id: str
    history: list[dict[str, Any]]
    service_id: str = "svc-1"
    lease_version: int = 1
    status: str = "running"
    space_id: str = "space-1"
    user_id: str = "user-1"
    agent_type: str = "default"
    system_prompt: str = "You are the Takos test agent."
    checkpoint: dict[str, Any] | None = None
    uncertain: bool = False
    completion: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    event_keys: set[str] = field(default_factory=set)
    thread_messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Call:
    endpoint: str
    headers: dict[str, str]
    body: Any
    status: int
    at: float


@dataclass
class Tool:
    definition: dict[str, Any]
    run: Callable[[dict[str, Any]], dict[str, Any]]
    delay_s: float = 0.0


def _err(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status)


class FakeTakos:
    """The Worker's state plus the executor host; `app` serves the agent-control family."""

    def __init__(self, *, openai_key: str = "sk-takos-run-key", openai_endpoint: str = "") -> None:
        self.runs: dict[str, Run] = {}
        self.slots: dict[tuple[int, str], dict[str, Token]] = {}
        self.tools: dict[str, Tool] = {}
        self.executions: Counter[str] = Counter()
        self.ledger: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.faults: dict[str, list[int]] = {}
        """endpoint → statuses answered (in order) before the real handler runs."""
        self.openai_key = openai_key
        self.openai_endpoint = openai_endpoint
        self.run_config_extra: dict[str, Any] = {}
        self.activated_skills: list[dict[str, Any]] = []
        """The skill plan's activatedSkills (SkillContext objects) that skill-runtime-context returns."""
        self.lock = threading.Lock()
        self.url = ""
        self.app = Starlette(
            routes=[
                Route(
                    PREFIX + "{endpoint:path}",
                    self._handle,
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                )
            ]
        )

    # --- the product side --------------------------------------------------------------------------------
    def create_run(
        self, run_id: str, message: str, *, history: list[dict[str, Any]] | None = None, **kw: Any
    ) -> Run:
        thread = f"thread-{run_id}"
        items = [*(history or []), {"role": "user", "content": message}]
        run = Run(run_id=run_id, thread_id=thread, history=items, **kw)
        self.runs[run_id] = run
        return run

    def add_tool(
        self,
        name: str,
        *,
        side_effects: bool,
        run: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        risk: str = "low",
        delay_s: float = 0.0,
    ) -> None:
        definition = {
            "name": name,
            "description": f"the {name} tool",
            "category": "test",
            "risk_level": risk,
            "side_effects": side_effects,
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            "durable_idempotency": side_effects,
        }
        self.tools[name] = Tool(
            definition, run or (lambda args: {"output": f"{name}:{json.dumps(args)}"}), delay_s
        )

    def reclaim(self, run_id: str) -> Run:
        """Stale recovery / requeue: a new serviceId and a higher lease; earlier tokens are revoked."""
        run = self.runs[run_id]
        run.lease_version += 1
        run.service_id = f"svc-{run.lease_version}"
        self._revoke(lambda t: t.run_id == run_id and t.lease_version < run.lease_version)
        return run

    def committed(self, run_id: str) -> dict[str, Any]:
        """The complete-run body the Worker committed for the run (fails the test if there is none)."""
        completion = self.runs[run_id].completion
        assert completion is not None, f"{run_id} was never completed"
        body: dict[str, Any] = completion["body"]
        return body

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    # --- the executor host: /dispatch → /start -----------------------------------------------------------
    def dispatch(
        self,
        run_id: str,
        container_url: str,
        *,
        model: str = "gpt-takos-test",
        tier: int = 1,
        start_token: str | None = None,
        container_id: str | None = None,
    ) -> httpx.Response:
        run = self.runs[run_id]
        token, info = self.mint(run_id, tier=tier, container_id=container_id, v2=False)
        slot = info.container_id
        body = {
            "runId": run_id,
            "serviceId": run.service_id,
            "workerId": run.service_id,
            "model": model,
            "leaseVersion": run.lease_version,
            "executorTier": tier,
            "executorContainerId": slot,
            "controlRpcBaseUrl": self.url,
            "startToken": start_token,
            "controlRpcToken": token,
            "checkpointProtocolVersion": 2,
        }
        headers = {"Content-Type": "application/json"}
        if start_token:
            headers["Authorization"] = f"Bearer {start_token}"
        try:
            response = httpx.post(
                f"{container_url}/start", content=json.dumps(body), headers=headers, timeout=30
            )
        except httpx.HTTPError:
            info.revoked = True
            raise
        ok = 200 <= response.status_code < 300
        info.v2 = ok and response.json().get("runtimeProtocolVersion") == 2
        if not ok:
            info.revoked = True
        return response

    def mint(
        self, run_id: str, *, tier: int = 1, container_id: str | None = None, v2: bool = True
    ) -> tuple[str, Token]:
        """A fresh control token for the run's current lease, stored in its slot (as dispatchStart does)."""
        run = self.runs[run_id]
        slot = container_id or (f"tier{tier}-warm-0" if tier == 1 else run_id)
        token = secrets.token_urlsafe(32)
        info = Token(run_id, run.service_id, run.lease_version, tier, slot, v2=v2)
        with self.lock:
            self.slots.setdefault((tier, slot), {})[token] = info
        return token, info

    # --- the host pipeline -------------------------------------------------------------------------------
    def _revoke(self, which: Callable[[Token], bool]) -> None:
        with self.lock:
            for tokens in self.slots.values():
                for info in tokens.values():
                    if which(info):
                        info.revoked = True

    async def _handle(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        raw = await request.body()
        response = self._pipeline(endpoint, request, raw)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw[:200].decode("utf-8", "replace")
        with self.lock:
            self.calls.append(
                Call(endpoint, dict(request.headers), body, response.status_code, time.monotonic())
            )
        return response

    def _pipeline(self, endpoint: str, request: Request, raw: bytes) -> Response:
        run_header = request.headers.get("x-takos-run-id")
        auth = request.headers.get("authorization", "")
        if not run_header or not auth.startswith("Bearer "):
            return _err("Unauthorized", 401)
        tier_header = request.headers.get("x-takos-executor-tier")
        tier = int(tier_header) if tier_header in ("2", "3") else 1
        slot = request.headers.get("x-takos-executor-container-id") or run_header
        info = self.slots.get((tier, slot), {}).get(auth.removeprefix("Bearer "))
        if info is None or info.revoked or info.run_id != run_header:
            return _err("Unauthorized", 401)
        if request.method not in ("POST", "GET"):
            return _err("Method not allowed", 405)
        if len(raw) > BODY_CAPS.get(endpoint, 2 * 1024 * 1024):
            return _err("Control RPC body is too large", 413)
        try:
            body = json.loads(raw) if request.method == "POST" else dict(request.query_params)
        except ValueError:
            return _err("Invalid control RPC JSON", 400)
        if not isinstance(body, dict):
            return _err("Control RPC body must be a JSON object", 400)
        body.update(runId=info.run_id, serviceId=info.service_id, leaseVersion=info.lease_version)
        if isinstance(body.get("workerId"), str):
            body["workerId"] = info.service_id
        if endpoint not in REGISTRY:
            return _err("Unauthorized", 401)
        if info.v2 and endpoint in LEGACY:
            return _err("Legacy split finalization is not available", 410)
        queued = self.faults.get(endpoint)
        if queued:
            return _err("Injected fault", queued.pop(0))
        if endpoint != "tool-cleanup":
            fence = self._lease(body, allow_terminal=endpoint == "complete-run")
            if fence is not None:
                self._after(endpoint, info, fence)
                return fence
        answer = getattr(self, "_" + endpoint.replace("-", "_"), None)
        response = answer(body) if answer is not None else JSONResponse({"success": True})
        self._after(endpoint, info, response)
        if endpoint == "heartbeat" and response.status_code == 200:
            info.last_heartbeat = time.monotonic()
        return response

    def _lease(self, body: dict[str, Any], *, allow_terminal: bool = False) -> Response | None:
        run = self.runs.get(str(body.get("runId")))
        if run is None:
            return _err("Run not found", 404)
        if body.get("serviceId") != run.service_id or body.get("leaseVersion") != run.lease_version:
            return _err("Lease lost", 409)
        if run.status != "running" and not (allow_terminal and run.completion is not None):
            return _err("Lease lost", 409)
        return None

    def _after(self, endpoint: str, info: Token, response: Response) -> None:
        if response.status_code == 409 and b"Lease lost" in bytes(response.body):
            self._revoke(lambda t: t.run_id == info.run_id and t.lease_version == info.lease_version)
        if endpoint == "complete-run" and 200 <= response.status_code < 300:
            self._revoke(lambda t: t.run_id == info.run_id)

    # --- endpoints ---------------------------------------------------------------------------------------
    def _heartbeat(self, body: dict[str, Any]) -> Response:
        if not body.get("runId") or not body.get("serviceId"):
            return _err("Missing runId or serviceId", 400)
        return JSONResponse({"success": True})

    def _run_bootstrap(self, body: dict[str, Any]) -> Response:
        run = self.runs[body["runId"]]
        return JSONResponse(
            {
                "status": run.status,
                "spaceId": run.space_id,
                "threadId": run.thread_id,
                "userId": run.user_id,
                "agentType": run.agent_type,
            }
        )

    def _run_config(self, body: dict[str, Any]) -> Response:
        run = self.runs[body["runId"]]
        return JSONResponse(
            {
                "agentType": run.agent_type,
                "systemPrompt": run.system_prompt,
                "maxGraphSteps": None,
                "maxToolRounds": None,
                "temperature": 0.5,
                **self.run_config_extra,
            }
        )

    def _conversation_history(self, body: dict[str, Any]) -> Response:
        if not body.get("runId") or not body.get("aiModel"):
            return _err("Missing runId or aiModel", 400)
        return JSONResponse({"history": self.runs[body["runId"]].history})

    def _skill_runtime_context(self, body: dict[str, Any]) -> Response:
        if not body.get("agentType") or not isinstance(body.get("history"), list):
            return _err("Missing agentType or history", 400)
        return JSONResponse(
            {
                "locale": "en",
                "resolutionContext": {},
                "skills": self.activated_skills,
                "managedSkills": [s for s in self.activated_skills if s.get("source") == "managed"],
                "customSkills": [s for s in self.activated_skills if s.get("source") == "custom"],
                "availableMcpServerNames": [],
                "availableTemplateIds": [],
            }
        )

    def _tool_catalog(self, body: dict[str, Any]) -> Response:
        return JSONResponse({"tools": [t.definition for t in self.tools.values()], "mcpFailedServers": []})

    def _tool_execute(self, body: dict[str, Any]) -> Response:
        call = body.get("toolCall")
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(call.get("name"), str)
            or not isinstance(call.get("arguments"), dict)
        ):
            return _err("Invalid toolCall", 400)
        key = body.get("idempotencyKey")
        if key is not None and (not isinstance(key, str) or not key or len(key.encode()) > 512):
            return _err("Invalid idempotencyKey", 400)
        run = self.runs[body["runId"]]
        if key is not None and (run.run_id, key) in self.ledger:
            return JSONResponse(self.ledger[(run.run_id, key)])
        tool = self.tools.get(call["name"])
        if tool is None:
            result: dict[str, Any] = {
                "tool_call_id": call["id"],
                "output": "",
                "error": f"Unknown tool: {call['name']}",
            }
        else:
            if tool.delay_s:
                time.sleep(tool.delay_s)
            self.executions[call["name"]] += 1
            result = {"tool_call_id": call["id"], "output": "", **tool.run(call["arguments"])}
            if result.get("outcome_uncertain"):
                run.uncertain = True
        if self.runs[body["runId"]].status != "running" or run.lease_version != body["leaseVersion"]:
            return _err("Lease lost", 409)
        if key is not None:
            self.ledger[(run.run_id, key)] = result
        return JSONResponse(result)

    def _tool_cleanup(self, body: dict[str, Any]) -> Response:
        if not body.get("runId"):
            return _err("Missing runId", 400)
        return JSONResponse({"success": True})

    def _api_keys(self, body: dict[str, Any]) -> Response:
        run = self.runs.get(body["runId"])
        if run is None or run.status != "running":
            return _err("Run is not active", 403)
        return JSONResponse({"openai": self.openai_key, "openaiEndpoint": self.openai_endpoint})

    def _run_event(self, body: dict[str, Any]) -> Response:
        problem = rules.run_event(body)
        if problem is not None:
            return _err(problem[1], problem[0])
        run = self.runs[body["runId"]]
        key = f"run:{run.run_id}:lease:{body['leaseVersion']}:sequence:{body['sequence']}:type:{body['type']}"
        if key in run.event_keys:
            return JSONResponse({"success": True, "duplicate": True})
        run.event_keys.add(key)
        run.events.append(
            {
                "type": body["type"],
                "sequence": body["sequence"],
                "lease": body["leaseVersion"],
                "data": body["data"],
            }
        )
        return JSONResponse({"success": True})

    def _engine_checkpoint_load(self, body: dict[str, Any]) -> Response:
        if not rules.safe_int(body.get("leaseVersion")):
            return _err("Invalid engine checkpoint request", 400)
        run = self.runs[body["runId"]]
        fatal = UNCERTAIN if run.uncertain else None
        protocol = body.get("checkpointProtocolVersion")
        if fatal and not (isinstance(protocol, int) and protocol >= 2):
            return _err(fatal, 409)
        if run.checkpoint is None:
            return JSONResponse(
                {
                    "checkpoint": None,
                    "usage": {"inputTokens": 0, "outputTokens": 0, "cachedInputTokens": 0},
                    "fatalError": fatal,
                }
            )
        return JSONResponse({**run.checkpoint, "fatalError": fatal})

    def _engine_checkpoint_save(self, body: dict[str, Any]) -> Response:
        if (
            not rules.checkpoint(body.get("checkpoint"))
            or not rules.checkpoint_usage(body.get("usage"))
            or not rules.safe_int(body.get("leaseVersion"))
        ):
            return _err("Invalid engine checkpoint payload", 400)
        stored = {"checkpoint": body["checkpoint"], "usage": body["usage"]}
        if rules.nbytes(stored) > 16 * 1024 * 1024:
            return _err("Engine checkpoint is too large", 413)
        self.runs[body["runId"]].checkpoint = stored
        return JSONResponse({"saved": True})

    def _complete_run(self, body: dict[str, Any]) -> Response:
        reason = rules.complete_run(body)
        if reason is None:
            reason = rules.complete_run_sizes(body)
        if reason is not None:
            return _err(f"Invalid complete-run payload: {reason}", 400)
        run = self.runs[body["runId"]]
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if run.completion is not None:
            if run.completion["digest"] == digest:
                return JSONResponse({"success": True, "committed": True, "idempotent": True})
            return _err("Lease lost", 409)
        run.status = body["status"]
        run.completion = {"digest": digest, "body": body}
        run.thread_messages.extend(body["messages"])
        run.checkpoint = None
        return JSONResponse({"success": True, "committed": True, "idempotent": False})

    def _run_status(self, body: dict[str, Any]) -> Response:
        return JSONResponse({"status": self.runs[body["runId"]].status})

    def _is_cancelled(self, body: dict[str, Any]) -> Response:
        return JSONResponse({"cancelled": self.runs[body["runId"]].status == "cancelled"})
