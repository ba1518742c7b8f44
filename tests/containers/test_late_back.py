"""A front started before its back (issue 20): compose can start the back later
(`up --no-deps front`, then `up back`). The front must keep running past its wait for the
back's name, answer the JSON 502 meanwhile, and serve stories once the back starts, without a
restart. The image runs here on the nginx stand-in (Debian's nginx 1.22: the entrypoint's
fallback, a placeholder upstream and a watcher that reloads nginx); the image's nginx 1.30
resolves the name itself (tests/front/test_back_name.py, and the check by hand in docs/front.md)."""

from __future__ import annotations

import time

import pytest

from conftest import Stack, free_port, http, inspect

OVERRIDE = "tests/containers/compose.late-back.yaml"
RESOLVE_TIMEOUT = 3  # BACK_RESOLVE_TIMEOUT in the override
AFTER_THE_WAIT = 30  # seconds the front must still be running after it


@pytest.fixture
def late_stack(engine):
    stack = Stack(back_port=free_port(), front_port=free_port(), files=("compose.yaml", OVERRIDE))
    try:
        yield stack
    finally:
        logs = stack.compose("logs", "--no-color", "--tail", "40", check=False).stdout
        print(logs)
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)


def story(stack: Stack):
    return http("GET", f"{stack.front}/racontemoiunehistoire", headers={"Accept": "application/json"})


def test_a_front_started_before_its_back_waits_then_serves(late_stack):
    late_stack.compose("up", "--detach", "--wait", "--no-build", "--no-deps", "front")
    front = late_stack.container("front")
    started = inspect(front)["State"]["StartedAt"]
    answer = story(late_stack)
    assert answer.status == 502 and answer.json() == {"error": "bad gateway: the back is unreachable"}

    time.sleep(RESOLVE_TIMEOUT + AFTER_THE_WAIT)
    state = inspect(front)["State"]
    assert state["Running"] and state["StartedAt"] == started, state
    assert inspect(front)["RestartCount"] == 0
    assert story(late_stack).status == 502

    late_stack.compose("up", "--detach", "--wait", "--no-build", "back")
    for _ in range(60):  # the watcher looks the name up every 5 s
        if story(late_stack).status == 200:
            break
        time.sleep(0.5)
    assert story(late_stack).status == 200
    state = inspect(front)["State"]
    assert state["Running"] and state["StartedAt"] == started and inspect(front)["RestartCount"] == 0
    logs = late_stack.compose("logs", "--no-color", "front").stdout
    assert "back (BACK_URL) does not resolve yet; waiting up to 3s" in logs
    assert "back (BACK_URL) now resolves to" in logs and "nginx reloaded" in logs
