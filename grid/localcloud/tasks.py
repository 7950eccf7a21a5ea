"""Cloud Tasks from the plan's queues, over the REST method the apps use (tasks.create), with Google's rules:

- creating a task needs ``roles/cloudtasks.enqueuer`` on the queue and, for a task with an OIDC token,
  ``iam.serviceAccounts.actAs`` (roles/iam.serviceAccountUser) on the token's account
  (https://cloud.google.com/tasks/docs/reference-access-control,
  https://cloud.google.com/tasks/docs/creating-http-target-tasks#sa);
- a named task can be created once: a second create with the name is 409 ALREADY_EXISTS, also after the first
  ran (Google keeps the name about an hour; here until restart)
  (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create);
- dispatch is an HTTP request with an OIDC token for the task's account and audience; a 2xx completes the task,
  anything else is retried after min_backoff doubled max_doublings times, then growing linearly, capped at
  max_backoff, until max_attempts attempts (-1: unlimited) (https://cloud.google.com/tasks/docs/configuring-queues,
  https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig);
- the queue's rateLimits bound dispatches per second and concurrent dispatches
  (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RateLimits).
Tasks live in memory: a restart of the local cloud loses undispatched ones (see docs/local-cloud.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger("grid.localcloud.tasks")


@dataclass(frozen=True)
class Queue:
    name: str
    """``projects/<p>/locations/<r>/queues/<q>``."""
    max_attempts: int
    min_backoff: float
    max_backoff: float
    max_doublings: int
    max_dispatches_per_second: float
    max_concurrent_dispatches: int
    enqueuers: frozenset[str]
    """IAM members with roles/cloudtasks.enqueuer on this queue."""

    def backoff(self, attempts: int) -> float:
        """The wait before the next attempt after ``attempts`` failed ones (RetryConfig's schedule)."""
        retry = attempts - 1
        if retry < self.max_doublings:
            interval = self.min_backoff * 2**retry
        else:
            interval = self.min_backoff * 2**self.max_doublings * (retry - self.max_doublings + 1)
        return min(interval, self.max_backoff)


@dataclass(frozen=True)
class HttpTask:
    name: str
    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    identity: str | None
    audience: str | None


Dispatch = Callable[[HttpTask], Awaitable[int]]
"""Send one attempt of a task; returns the HTTP status the target answered."""


class TaskError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class _QueueState:
    spec: Queue
    ready: list[tuple[float, int, HttpTask]] = field(default_factory=list)
    """(not before, attempts so far, task)."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    names: set[str] = field(default_factory=set)
    completed: int = 0
    dropped: int = 0
    attempts: int = 0
    running: int = 0


class CloudTasks:
    def __init__(
        self,
        queues: dict[str, Queue],
        act_as: dict[str, set[str]],
        dispatch: Dispatch,
        *,
        retry_scale: float = 1.0,
    ) -> None:
        self.queues = {name: _QueueState(spec) for name, spec in queues.items()}
        self.act_as = act_as
        """Service account email -> members with roles/iam.serviceAccountUser on it."""
        self.dispatch = dispatch
        self.retry_scale = retry_scale
        self._loops: list[asyncio.Task[None]] = []
        self._attempts: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._loops += [asyncio.ensure_future(self._dispatch_loop(state)) for state in self.queues.values()]

    async def stop(self) -> None:
        for task in [*self._loops, *self._attempts]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._attempts, return_exceptions=True)

    def create(self, queue: str, task: dict[str, Any], member: str | None) -> dict[str, Any]:
        state = self.queues.get(queue)
        if state is None:
            raise TaskError(404, "NOT_FOUND", f"Queue does not exist (resource={queue}).")
        if member is not None and member not in state.spec.enqueuers:
            raise TaskError(403, "PERMISSION_DENIED", f"{member} lacks cloudtasks.tasks.create on {queue}")
        request = task.get("httpRequest")
        if not isinstance(request, dict) or not request.get("url"):
            raise TaskError(400, "INVALID_ARGUMENT", "only HTTP tasks with httpRequest.url are emulated")
        oidc = request.get("oidcToken") or {}
        identity = oidc.get("serviceAccountEmail")
        if identity and member is not None and member not in self.act_as.get(identity, set()):
            raise TaskError(403, "PERMISSION_DENIED", f"{member} lacks iam.serviceAccounts.actAs on {identity}")
        name = task.get("name") or f"{queue}/tasks/{time.monotonic_ns()}"
        if not name.startswith(f"{queue}/tasks/"):
            raise TaskError(400, "INVALID_ARGUMENT", f"task name {name} is not in {queue}")
        if name in state.names:
            raise TaskError(409, "ALREADY_EXISTS", "Requested entity already exists")
        state.names.add(name)
        http = HttpTask(
            name=name,
            url=request["url"],
            method=request.get("httpMethod", "POST"),
            headers=dict(request.get("headers") or {}),
            body=base64.b64decode(request.get("body", "")),
            identity=identity,
            audience=oidc.get("audience") or request["url"],
        )
        state.ready.append((0.0, 0, http))
        state.arrived.set()
        return {"name": name, "httpRequest": {"url": http.url, "httpMethod": http.method}, "dispatchCount": 0}

    async def _dispatch_loop(self, state: _QueueState) -> None:
        spec = state.spec
        interval = 1.0 / spec.max_dispatches_per_second
        last = 0.0
        while True:
            now = time.monotonic()
            due = sorted((t for t in state.ready if t[0] <= now), key=lambda t: t[0])
            if not due or state.running >= spec.max_concurrent_dispatches:
                state.arrived.clear()
                wait = min([t[0] for t in state.ready], default=now + 1.0) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.arrived.wait(), timeout=max(0.01, min(wait, 1.0)))
                continue
            await asyncio.sleep(max(0.0, last + interval - time.monotonic()))  # maxDispatchesPerSecond
            last = time.monotonic()
            item = due[0]
            state.ready.remove(item)
            state.running += 1
            attempt = asyncio.ensure_future(self._attempt(state, item[1] + 1, item[2]))
            self._attempts.add(attempt)
            attempt.add_done_callback(self._attempts.discard)

    async def _attempt(self, state: _QueueState, attempts: int, task: HttpTask) -> None:
        spec = state.spec
        state.attempts += 1
        try:
            status = await self.dispatch(task)
        except Exception as exc:  # the target is down: a failed attempt like any non-2xx
            log.warning("task %s: dispatch failed: %s", task.name, type(exc).__name__)
            status = 503
        finally:
            state.running -= 1
            state.arrived.set()
        if 200 <= status < 300:
            state.completed += 1
            return
        if spec.max_attempts != -1 and attempts >= spec.max_attempts:
            state.dropped += 1
            log.warning("task %s: dropped after %d attempts (last HTTP %d)", task.name, attempts, status)
            return
        delay = spec.backoff(attempts) * self.retry_scale
        log.info("task %s: HTTP %d, attempt %d, retrying in %.1fs", task.name, status, attempts, delay)
        state.ready.append((time.monotonic() + delay, attempts, task))

    def stats(self) -> dict[str, Any]:
        return {
            name: {
                "backlog": len(s.ready) + s.running,
                "completed": s.completed,
                "dropped": s.dropped,
                "attempts": s.attempts,
            }
            for name, s in self.queues.items()
        }


def tasks_routes(tasks: CloudTasks, member: str) -> list[Route]:
    """Cloud Tasks' tasks.create as ``member`` (the workload this listener belongs to) calls it."""

    async def create(request: Request) -> Response:
        queue = request.path_params["queue"]
        try:
            body = await request.json()
            created = tasks.create(queue, body.get("task") or {}, member)
        except TaskError as exc:
            return JSONResponse({"error": {"code": exc.code, "message": str(exc), "status": exc.status}}, exc.code)
        except ValueError:
            return JSONResponse({"error": {"code": 400, "message": "invalid JSON", "status": "INVALID_ARGUMENT"}}, 400)
        return JSONResponse(created)

    return [Route("/v2/{queue:path}/tasks", create, methods=["POST"])]
