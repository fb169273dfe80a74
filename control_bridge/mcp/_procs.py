"""Which process a stdio server is, and making sure its whole process group is gone.

The SDK starts each stdio server as the leader of a new session (so `killpg(pid)` reaches its descendants)
and kills that group when the transport closes normally. It does not when the leader died first (a crash,
`kill -9`): a launcher's children (`npx` → `node`) would then live on as orphans. So after every connection
ends we SIGKILL the group ourselves. The SDK does not expose the pid, so we find it in /proc: the new child
of this process that leads its own session and runs the configured command.
"""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from pathlib import Path

CLAIMED: set[int] = set()
"""Pids already known as some connection's server (so a sibling started at the same moment is never taken
for it)."""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, session id) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[0], int(fields[1]), int(fields[3])


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def session_children() -> set[int]:
    """Our direct children that lead their own session (how the SDK starts stdio servers)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is not None and stat[1] == me and stat[2] == pid:
            found.add(pid)
    return found


def find_spawned(before: set[int], command: str, args: list[str], claimed: set[int]) -> int | None:
    """The child that appeared since `before` and runs `command args` (a script's argv starts with its
    interpreter, so the command is matched by basename anywhere and the arguments as the tail)."""
    candidates = [pid for pid in session_children() - before if pid not in claimed]
    base = os.path.basename(command)
    matching = [
        pid
        for pid in candidates
        if (argv := _cmdline(pid))
        and any(os.path.basename(a) == base for a in argv)
        and (not args or argv[-len(args) :] == args)
    ]
    if len(matching) == 1:
        return matching[0]
    return candidates[0] if len(candidates) == 1 else None


def alive(pid: int) -> bool:
    """False once the process is dead (a zombie counts as dead: it will never answer again)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def kill_group(pgid: int) -> None:
    """SIGKILLs every process left in the group (nothing happens if it is already empty)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group (used by tests and the orphan check)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members
