"""The local world in the background: `switchboard demo` plays the story in a detached process that keeps serving
afterwards (so the console's printed URL stays usable after the shell returns); `switchboard down` stops it.

    .world/world.pid    {"pid": ..., "command": ...} of the process that holds the world (written by that process,
                        removed when it stops); one world at a time: starting one stops the one recorded here
    .world/demo.log     what the detached demo printed (the foreground process shows it as it comes)

The detached process runs in a session of its own (no terminal: Ctrl-C in the shell does not reach it, closing the
shell does not stop it). It stops on SIGTERM, cleanly: its instances, PostgreSQL, moto and the stand-in with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localworld.accounts import ROOT

WORKDIR = ROOT / ".world"
PID_FILE = "world.pid"
LOG_FILE = "demo.log"
DONE = "SWITCHBOARD-DEMO-DONE"  # the line the detached demo prints once the story is played: DONE <rc> <url>
STOP_SECONDS = 30.0


def _pid_file(workdir: Path) -> Path:
    return workdir / PID_FILE


def claim(workdir: Path = WORKDIR) -> None:
    """Record this process as the one holding the world (`switchboard down` and the next start read it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    _pid_file(workdir).write_text(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv[:3])}))


def release(workdir: Path = WORKDIR) -> None:
    """Forget the record if it is still this process's."""
    if recorded(workdir) == os.getpid():
        _pid_file(workdir).unlink(missing_ok=True)


def recorded(workdir: Path = WORKDIR) -> int | None:
    """The pid of the running world recorded in ``workdir``, if that process is alive and is a local world."""
    try:
        pid = int(json.loads(_pid_file(workdir).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if _is_world(pid) else None


def _is_world(pid: int) -> bool:
    """Alive, and running Switchboard's local world (a pid the system has given to another program is not ours)."""
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (ProcessLookupError, PermissionError):
        return False
    except OSError:  # no /proc (not Linux): trust the record
        return True
    return "localworld" in cmdline or "switchboard" in cmdline


def down(workdir: Path = WORKDIR, say: Callable[[str], None] = print) -> bool:
    """Stop the world recorded in ``workdir`` (SIGTERM, then its whole session after STOP_SECONDS). True when one
    was running."""
    pid = recorded(workdir)
    if pid == os.getpid():  # the detached world itself, recorded by the process that started it
        return False
    if pid is None:
        _pid_file(workdir).unlink(missing_ok=True)
        return False
    say(f"Stopping the local world (pid {pid})...")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while _is_world(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_world(pid):
        say(f"  it did not stop within {STOP_SECONDS:.0f} s: killing its session")
        try:
            os.killpg(pid, signal.SIGKILL)  # the detached world leads its own session: its instances go with it
        except (ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _pid_file(workdir).unlink(missing_ok=True)
    return True


def detach(extra: list[str], workdir: Path = WORKDIR, out: Callable[[str], None] = print,
           command: list[str] | None = None) -> int:
    """Stop any previous world, start `switchboard demo --stay` (or ``command``) detached, show what it prints
    until the story is played, then return its result while it keeps serving. A world that stops before (it
    failed to start) gives its own exit code."""
    down(workdir, say=out)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / LOG_FILE
    command = command or [sys.executable, "-m", "localworld.cli", "demo", "--stay", "--announce", *extra]
    with open(log, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _pid_file(workdir).write_text(json.dumps({"pid": proc.pid, "command": " ".join(command[:4])}))
    result: tuple[int, str] | None = None
    try:
        with open(log, encoding="utf-8") as source:
            while result is None:
                line = source.readline()
                if not line:
                    if proc.poll() is not None:
                        rest = source.read()
                        if rest:
                            out(rest.rstrip("\n"))
                        out(f"\nThe local world stopped (exit {proc.returncode}); its output is in {log}")
                        return proc.returncode or 1
                    time.sleep(0.1)
                    continue
                if line.startswith(DONE):
                    _, rc, url = line.split(maxsplit=2)
                    result = (int(rc), url.strip())
                else:
                    out(line.rstrip("\n"))
    except KeyboardInterrupt:
        out("\nInterrupted: stopping the local world")
        down(workdir, say=out)
        return 130
    rc, url = result
    out(f"\nThe local world keeps serving in the background (pid {proc.pid}; its output: {log}).")
    out(f"Open the console: {url}")
    out("Stop it with `make down` (or `.venv/bin/switchboard down`); `make run` again replaces it.")
    return rc
