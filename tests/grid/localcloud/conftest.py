"""One local cloud per shipped stack for the whole session, started together (their startups overlap)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
# dev-external: its Postgres and Redis are stand-ins for the providers' (grid/localcloud/runner.py _external_*).
STACKS = ("dev", "dev-external", "staging", "prod")


class Cloud:
    def __init__(self, stack: str, root: Path) -> None:
        self.stack = stack
        self.data_dir = root / stack
        self.log = root / f"{stack}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.topology: dict = {}
        self.started_at = 0.0
        self.ready_after = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grid.cli", "local", "--stack", self.stack, "--port", "0",
                 "--data-dir", str(self.data_dir)],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait(self, deadline: float) -> None:
        path = self.data_dir / "topology.json"
        while not path.is_file():
            assert self.proc is not None and self.proc.poll() is None, f"{self.stack}: {self.tail()}"
            assert time.monotonic() < deadline, f"{self.stack} not ready: {self.tail()}"
            time.sleep(0.5)
        self.topology = json.loads(path.read_text())
        self.ready_after = time.monotonic() - self.started_at

    def tail(self) -> str:
        logs = self.data_dir / "logs"
        extra = (
            "".join(f"\n--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(logs.glob("*.log")))
            if logs.is_dir()
            else ""
        )
        return self.log.read_text()[-3000:] + extra

    @property
    def entry(self) -> str:
        return self.topology["entry"]

    @property
    def entry_headers(self) -> dict[str, str]:
        """What every client of the entry point sends: the public hostname, and behind API Gateway its API key."""
        host, key = self.topology["host"], self.topology.get("apiKey")
        return {**({"Host": host} if host else {}), **({"x-api-key": key} if key else {})}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.entry, timeout=30, headers=self.entry_headers)

    def status(self) -> dict:
        return httpx.get(f"{self.topology['control']}/status", timeout=10).json()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture(scope="session")
def clouds(request):
    root = Path(tempfile.mkdtemp(prefix="grid-localcloud-"))
    started = {stack: Cloud(stack, root) for stack in STACKS}
    try:
        for cloud in started.values():
            cloud.start()
        deadline = time.monotonic() + 420
        for cloud in started.values():
            cloud.wait(deadline)
        yield started
    finally:
        for cloud in started.values():
            cloud.stop()
        if request.session.testsfailed:
            print(f"\nlocal cloud logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
