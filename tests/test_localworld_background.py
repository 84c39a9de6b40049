"""`switchboard demo` leaves the world serving in a detached process; `switchboard down` stops it; a pid that is
not a local world is never signalled. A stand-in for the demo (a small script) keeps these tests light."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from localworld import background

# prints like the demo, says it is done, then serves until SIGTERM (argv names it a local world, as the real one)
FAKE_DEMO = [sys.executable, "-c", (
    "import sys, time\n"
    "print('1. a step', flush=True)\n"
    "print('  [ok] it did what it should', flush=True)\n"
    f"print('{background.DONE} ' + sys.argv[1] + ' http://127.0.0.1:1/console', flush=True)\n"
    "time.sleep(120)\n"), "3", "localworld-test"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_detach_shows_the_story_returns_its_result_and_leaves_the_world_serving_until_down(tmp_path):
    lines: list[str] = []
    rc = background.detach([], workdir=tmp_path, out=lines.append, command=FAKE_DEMO)
    assert rc == 3  # the story's own result
    assert lines[:2] == ["1. a step", "  [ok] it did what it should"]
    assert any("http://127.0.0.1:1/console" in line for line in lines) and any("make down" in line for line in lines)
    pid = background.recorded(tmp_path)
    assert pid is not None and alive(pid)
    try:
        again = background.detach([], workdir=tmp_path, out=lines.append, command=FAKE_DEMO)  # a second run
        assert again == 3
        assert not alive(pid) or _zombie(pid)  # the first world was stopped before the second started
        second = background.recorded(tmp_path)
        assert second not in (None, pid)
    finally:
        assert background.down(tmp_path, say=lines.append)
    assert background.recorded(tmp_path) is None and not (tmp_path / background.PID_FILE).exists()
    assert not background.down(tmp_path, say=lines.append)  # nothing left to stop


def test_a_world_that_stops_before_the_story_is_played_gives_its_exit_code(tmp_path):
    lines: list[str] = []
    rc = background.detach([], workdir=tmp_path, out=lines.append,
                           command=[sys.executable, "-c", "print('cannot start'); raise SystemExit(4)"])
    assert rc == 4
    assert "cannot start" in lines and any("stopped (exit 4)" in line for line in lines)


def test_a_recorded_pid_that_is_not_a_local_world_is_left_alone(tmp_path):
    other = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / background.PID_FILE).write_text(f'{{"pid": {other.pid}}}')
        assert background.recorded(tmp_path) is None
        assert not background.down(tmp_path, say=lambda line: None)
        time.sleep(0.2)
        assert other.poll() is None  # still running: never signalled
    finally:
        other.terminate()
        other.wait()


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    except OSError:
        return False


def test_the_world_recorded_by_its_launcher_does_not_stop_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(background, "_is_world", lambda pid: pid == os.getpid())  # this test process plays the world
    background.claim(tmp_path)  # as detach records the child before the child's own start stops "the previous world"
    assert background.recorded(tmp_path) == os.getpid()
    assert not background.down(tmp_path, say=lambda line: None)  # no signal to itself (the test would not go on)
    assert background.recorded(tmp_path) == os.getpid()
    background.release(tmp_path)
    assert background.recorded(tmp_path) is None
