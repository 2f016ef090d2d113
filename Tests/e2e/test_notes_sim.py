"""Many notes clients (Public/notes-client.js) editing one meeting on the real server at once:
Tests/sim/notes-sim.mjs drives 20 of them over real WebSockets with random delays, disconnects
and edits, then checks every client's outline equals a fresh snapshot."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from conftest import REPO_ROOT, make_meeting, set_up_admin, sign_up

SIM = REPO_ROOT / "Tests" / "sim" / "notes-sim.mjs"
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_twenty_clients_converge_on_the_real_server(server, admin, make_user, artifacts_dir):
    people = [admin] + [make_user(f"Sim Person{i}") for i in range(3)]
    meeting = make_meeting(admin)
    command = [NODE, "--experimental-websocket", str(SIM), "--base", server.base_url,
               "--cookie", ",".join(person.token for person in people), "--meeting", meeting.api,
               "--clients", "20", "--seconds", "12", "--seed", "7"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=str(REPO_ROOT))
    (artifacts_dir / "notes-sim.json").write_text(result.stdout)
    try:
        summary = json.loads(result.stdout)
    except json.JSONDecodeError:
        summary = None
    assert result.returncode == 0, (
        f"the simulation failed (exit {result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    assert summary and summary["ok"] and summary["settled"] and not summary["diverged"], summary
    print(json.dumps({key: summary[key] for key in ("seq", "bullets", "connects", "drops", "overtaken", "errors")}))
    # It really exercised the notes: many changes from everyone, reconnects included.
    assert summary["seq"] > 500 and summary["bullets"] > 20 and summary["drops"] > 0, summary
    assert not summary["suspicious"], summary["suspicious"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_clients_converge_across_a_server_restart(start_server, artifacts_dir):
    """The server restarts mid-run (same port and data): clients reconnect with `since`, resend what
    was not confirmed, and still end up equal to the snapshot (text history reloads from the op log)."""
    instance = start_server()
    admin = set_up_admin([instance])
    people = [admin] + [sign_up(instance, f"Restart Person{i}") for i in range(2)]
    meeting = make_meeting(admin)
    command = [NODE, "--experimental-websocket", str(SIM), "--base", instance.base_url,
               "--cookie", ",".join(person.token for person in people), "--meeting", meeting.api,
               "--clients", "10", "--seconds", "8", "--seed", "11"]
    sim = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO_ROOT))
    try:
        time.sleep(4)
        assert instance.stop() == 0, instance.log()[-3000:]
        instance.spawn(port=instance.port)
        instance.wait_healthy()
        stdout, stderr = sim.communicate(timeout=120)
    finally:
        if sim.poll() is None:
            sim.kill()
    (artifacts_dir / "notes-sim-restart.json").write_text(stdout)
    assert sim.returncode == 0, f"the simulation failed (exit {sim.returncode}):\n{stdout[-6000:]}\n{stderr[-3000:]}"
    summary = json.loads(stdout)
    print(json.dumps({key: summary[key] for key in ("seq", "bullets", "connects", "drops", "overtaken", "errors")}))
    assert summary["ok"] and summary["connects"] > 10, summary
    assert not summary["suspicious"], summary["suspicious"]
