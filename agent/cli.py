"""`agent serve | run | bench | contract | control-plane | memory | skills`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from agent import __version__
from agent.settings import Settings, SettingsError

BENCHES = ("startup", "bridge", "loop", "models", "memory", "skills", "durability", "mcp", "wal")


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(os.environ, **overrides)
    except SettingsError as exc:
        raise SystemExit(f"agent: {exc}") from None


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from agent.logs import configure_logging
    from agent.preflight import preflight
    from agent.server.app import create_app
    from agent.server.auth import is_loopback
    from agent.server.http_limits import uvicorn_limits

    if args.dev and args.host and not is_loopback(args.host):
        raise SystemExit(f"agent: --dev binds to loopback only; refusing host {args.host!r}")
    host = "127.0.0.1" if args.dev else (args.host or os.environ.get("HOST") or "0.0.0.0")
    settings = _settings(port=args.port, dev=args.dev or None, host=host, mcp_config_path=args.mcp_config)
    configure_logging(settings.log_level, max_per_s=settings.log_max_per_s)
    preflight(settings.data_dir)  # a damaged or read-only DATA_DIR: one line and exit, never a traceback
    app = create_app(settings)
    # uvicorn drains (runs checkpoint in the lifespan shutdown) and then re-raises SIGTERM; with this
    # handler in place that ends the process with status 0, as orchestrators expect from a clean stop.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        app,
        host=host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our JSON handler and its rate limit too
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        **uvicorn_limits(
            header_timeout_s=settings.http_header_timeout_s,
            max_connections=settings.http_max_connections,
            keep_alive_s=settings.http_keep_alive_s,
        ),
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from agent.runlocal import run_locally

    model = f"scripted:{args.script}" if args.script else args.model
    settings = _settings(model=model)
    return asyncio.run(run_locally(settings, args.message, json_events=args.json))


def cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"agent.bench.{args.bench}")
    result = module.run(args)
    if args.json:
        print(json.dumps(result, default=float))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def cmd_contract(args: argparse.Namespace) -> int:
    """The control-plane contract and the run-event catalog: everything a peer of the container reads."""
    from agent.events.catalog import event_schemas
    from control_bridge.schema import contract_json_schema

    schema = {**contract_json_schema(), "events": event_schemas()}
    print(json.dumps(schema, indent=None if args.json else 2))
    return 0


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Bench modules are imported only for the bench being run, so the CLI starts fast."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"agent-container {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the HTTP server")
    serve.add_argument(
        "--dev", action="store_true", help="no token, bound to 127.0.0.1 only (local development)"
    )
    serve.add_argument("--port", type=int, default=None, help="port (default PORT or 8080)")
    serve.add_argument("--host", default=None, help="interface (default HOST or 0.0.0.0)")
    serve.add_argument(
        "--mcp-config", default=None, help="MCP servers file, Claude Desktop format (default MCP_CONFIG)"
    )
    serve.set_defaults(fn=cmd_serve)

    run = sub.add_parser("run", help="run one message in-process on the embedded control plane")
    run.add_argument("message")
    run.add_argument("--model", default=None, help="provider:model (default MODEL or the local echo runner)")
    run.add_argument("--script", type=Path, default=None, help="a scripted-model JSON file")
    run.add_argument("--json", action="store_true", help="print events as JSON lines")
    run.set_defaults(fn=cmd_run)

    bench = sub.add_parser("bench", help="benchmarks that print numbers")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    for name in BENCHES:
        p = bench_sub.add_parser(name)
        p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
        if argv[:2] == ["bench", name]:
            importlib.import_module(f"agent.bench.{name}").add_arguments(p)
        p.set_defaults(fn=cmd_bench)

    contract = sub.add_parser(
        "contract", help="the control-plane contract and the run-event catalog as JSON Schema"
    )
    contract.add_argument("--json", action="store_true")
    contract.set_defaults(fn=cmd_contract)

    # Sub-command groups from the other packages are imported only when used: `memory` pulls in numpy and
    # networkx, which `agent serve` must not pay for at start.
    for command, module, summary in (
        ("control-plane", "control_bridge.cli", "the reference control plane"),
        ("memory", "memory.cli", "search, timeline, graph, provenance and import of the memory substrate"),
        ("skills", "skills.cli", "skill selection and validation"),
    ):
        if argv[:1] != [command]:
            sub.add_parser(command, help=summary)
            continue
        mod = importlib.import_module(module)
        if command == "memory":
            mod.register(sub, lambda: _settings().data_dir)
        else:
            mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
