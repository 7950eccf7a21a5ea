"""Deferred re-embedding through Cloud Tasks, end to end on the session's Postgres: ai enqueues over the REST API
into the local Cloud Tasks (grid/localcloud/tasks.py), which dispatches each task back to ai with an OIDC token
from the local issuer, retrying with the queue's backoff; a page delivered twice does no harm."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette

from app.ai import tasks as ai_tasks
from app.ai.main import create_app
from app.ai.settings import AiSettings
from grid.local import free_port
from grid.localcloud.identity import Issuer, certs_route
from grid.localcloud.tasks import CloudTasks, HttpTask, Queue, TaskError, tasks_routes
from tests.app.conftest import ServerThread, base_env

PROJECT = "acme-grid-test"
QUEUE = f"projects/{PROJECT}/locations/us-central1/queues/grid-test-ai-tasks"
AI_MEMBER = f"serviceAccount:grid-test-ai@{PROJECT}.iam.gserviceaccount.com"
INVOKER = f"grid-test-invoker@{PROJECT}.iam.gserviceaccount.com"
AUDIENCE = "grid-test-ai-indexer"


class Faults:
    """What the dispatcher does to the next attempts: fail the first attempt of each task (a retry follows), and
    deliver a page twice (Cloud Tasks' at-least-once)."""

    def __init__(self) -> None:
        self.fail_first = False
        self.deliver_twice = False
        self.seen: set[str] = set()
        self.statuses: list[int] = []


@pytest.fixture(scope="module")
def local_tasks() -> Iterator[tuple[CloudTasks, Issuer, Faults, int]]:
    issuer = Issuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    faults = Faults()
    client = httpx.AsyncClient(timeout=60)

    async def dispatch(task: HttpTask) -> int:
        if faults.fail_first and task.name not in faults.seen:
            faults.seen.add(task.name)
            return 503
        assert task.identity is not None and task.audience is not None
        headers = {**task.headers, "Authorization": f"Bearer {issuer.id_token(task.identity, task.audience)}"}
        for _ in range(2 if faults.deliver_twice else 1):
            resp = await client.request(task.method, task.url, content=task.body, headers=headers)
            faults.statuses.append(resp.status_code)
        return resp.status_code

    queue = Queue(
        name=QUEUE,
        max_attempts=5,
        min_backoff=0.05,
        max_backoff=0.5,
        max_doublings=3,
        max_dispatches_per_second=50,
        max_concurrent_dispatches=2,
        enqueuers=frozenset({AI_MEMBER}),
    )
    cloud = CloudTasks({QUEUE: queue}, {INVOKER: {AI_MEMBER}}, dispatch)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        cloud.start()
        yield
        await cloud.stop()
        await client.aclose()

    app = Starlette(routes=[*tasks_routes(cloud, AI_MEMBER), certs_route(issuer)], lifespan=lifespan)
    server = ServerThread(app).start()
    yield cloud, issuer, faults, server.port
    server.stop()


@pytest.fixture(scope="module")
def tasks_ai(postgres, redis_server, auth_server, api_server, embedder, local_tasks) -> Iterator[ServerThread]:
    _, _, _, tasks_port = local_tasks
    port = free_port()
    settings = AiSettings(
        **{
            **base_env(postgres, redis_server),
            "JWKS_URL": f"{auth_server.url}/auth/.well-known/jwks.json",
            "EVENTS_BACKEND": "none",
            "TASKS_QUEUE": QUEUE,
            "TASKS_TARGET_URL": f"http://127.0.0.1:{port}{ai_tasks.REINDEX_PATH}",
            "TASKS_INVOKER": INVOKER,
            "TASKS_AUDIENCE": AUDIENCE,
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{tasks_port}",
            "GOOGLE_CERTS_URL": f"http://127.0.0.1:{tasks_port}/oauth2/v3/certs",
        }
    )
    server = ServerThread(create_app(settings, configure_logs=False, embedder=embedder), port=port).start(120)
    yield server
    server.stop()


def _models(postgres, user_id: str) -> dict[str, str | None]:
    """Each of the user's messages -> the model of its embedding (None: not embedded)."""
    with psycopg.connect(postgres.admin_url) as conn:
        rows = conn.execute(
            """SELECT m.id::text, e.model FROM messages m LEFT JOIN message_embeddings e ON e.message_id = m.id
               WHERE m.user_id = %s""",
            (user_id,),
        ).fetchall()
    return dict(rows)


def _imported(postgres, user, make_conversation, n: int) -> None:
    """Messages written straight into the database, as a bulk import would: no message.created event, so no
    indexer has seen them (nor can another test's indexer race this one)."""
    conversation = make_conversation(user)["id"]
    with psycopg.connect(postgres.admin_url) as conn:
        for seq in range(1, n + 1):
            conn.execute(
                "INSERT INTO messages (conversation_id, user_id, seq, role, content) VALUES (%s, %s, %s, 'user', %s)",
                (conversation, user.id, seq, f"imported note {seq} about the quarterly plan"),
            )


def test_reindex_reembeds_the_users_messages_page_by_page_with_retries_and_redelivery(
    tasks_ai, local_tasks, postgres, make_user, make_conversation, wait_until, monkeypatch
) -> None:
    cloud, _, faults, _ = local_tasks
    monkeypatch.setattr(ai_tasks, "PAGE", 2)  # 5 messages: pages of 2, 2, 1 (three tasks, chained)
    owner, other = make_user(), make_user()
    _imported(postgres, owner, make_conversation, 5)
    _imported(postgres, other, make_conversation, 2)
    faults.fail_first, faults.deliver_twice = True, True
    model = tasks_ai.server.config.app.state.ai.model
    before = cloud.stats()[QUEUE]

    r = httpx.post(f"{tasks_ai.url}/ai/reindex", headers=owner.headers)
    assert r.status_code == 202 and r.json() == {"model": model, "queued": True}
    # The same request again while the first is queued or just done: the task name is taken, nothing new runs.
    assert httpx.post(f"{tasks_ai.url}/ai/reindex", headers=owner.headers).json()["queued"] is False

    assert wait_until(lambda: set(_models(postgres, owner.id).values()) == {model}, timeout=120)
    assert wait_until(lambda: cloud.stats()[QUEUE]["backlog"] == 0, timeout=60)
    after = cloud.stats()[QUEUE]
    assert after["completed"] - before["completed"] == 3  # three pages: a redelivery forked no extra chain
    assert after["attempts"] - before["attempts"] == 6  # each page failed once, then the retry succeeded
    assert after["dropped"] == before["dropped"]
    assert set(faults.statuses) == {204}  # the repeated deliveries succeeded too: nothing left to redo
    # Tenant-scoped: the other user's messages were not touched.
    assert set(_models(postgres, other.id).values()) == {None}


def test_a_task_without_the_invokers_token_is_refused(tasks_ai, local_tasks, user) -> None:
    _, issuer, _, _ = local_tasks
    body = {"user_id": user.id, "model": "m", "after": None}
    url = f"{tasks_ai.url}{ai_tasks.REINDEX_PATH}"
    assert httpx.post(url, json=body).status_code == 401
    for email, audience in (("attacker@evil.example", AUDIENCE), (INVOKER, "someone-else")):
        token = issuer.id_token(email, audience)
        assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    token = issuer.id_token(INVOKER, AUDIENCE)
    garbage = httpx.post(url, json={"user": 1}, headers={"Authorization": f"Bearer {token}"})
    assert garbage.status_code == 400


def test_reindex_without_a_queue_says_what_to_set(ai, user) -> None:
    r = ai.post("/ai/reindex", headers=user.headers)
    assert r.status_code == 404 and "TASKS_QUEUE" in r.text


def test_half_configured_tasks_are_refused(postgres, redis_server) -> None:
    env: dict[str, Any] = {**base_env(postgres, redis_server), "JWKS_URL": "http://x/jwks", "TASKS_QUEUE": QUEUE}
    with pytest.raises(ValueError, match="TASKS_TARGET_URL, TASKS_INVOKER, TASKS_AUDIENCE"):
        AiSettings(**env)


def test_the_emulator_keeps_googles_rules() -> None:
    """Enqueuer and actAs grants, names taken once, the RetryConfig schedule, and max attempts."""
    attempts: list[str] = []

    async def failing(task: HttpTask) -> int:
        attempts.append(task.name)
        return 500

    queue = Queue(QUEUE, 3, 0.01, 0.05, 2, 100, 1, frozenset({AI_MEMBER}))
    assert [queue.backoff(n) for n in range(1, 7)] == [0.01, 0.02, 0.04, 0.05, 0.05, 0.05]
    wide = Queue(QUEUE, -1, 10, 300, 3, 1, 1, frozenset())
    # Doubled max_doublings times, then growing linearly by the last doubled interval, capped at max_backoff.
    assert [wide.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]

    async def scenario() -> dict[str, Any]:
        cloud = CloudTasks({QUEUE: queue}, {INVOKER: {AI_MEMBER}}, failing)
        task = {"name": f"{QUEUE}/tasks/t1", "httpRequest": {"url": "http://target/x", "oidcToken": {
            "serviceAccountEmail": INVOKER, "audience": AUDIENCE}}}  # fmt: skip
        with pytest.raises(TaskError, match=r"cloudtasks\.tasks\.create"):
            cloud.create(QUEUE, task, "serviceAccount:api@x")  # no enqueuer grant on the queue
        with pytest.raises(TaskError, match="actAs"):
            CloudTasks({QUEUE: queue}, {}, failing).create(QUEUE, task, AI_MEMBER)  # may not act as the invoker
        cloud.create(QUEUE, task, AI_MEMBER)
        with pytest.raises(TaskError, match="already exists") as taken:
            cloud.create(QUEUE, task, AI_MEMBER)
        assert taken.value.code == 409
        cloud.start()
        for _ in range(500):
            if cloud.stats()[QUEUE]["dropped"]:
                break
            await asyncio.sleep(0.01)
        await cloud.stop()
        return cloud.stats()[QUEUE]

    stats = asyncio.run(scenario())
    assert stats["dropped"] == 1 and attempts == [f"{QUEUE}/tasks/t1"] * 3


def test_reindex_after_a_model_change_replaces_the_old_models_vectors(
    tasks_ai, local_tasks, postgres, make_user, make_conversation, wait_until
) -> None:
    cloud, _, faults, _ = local_tasks
    faults.fail_first, faults.deliver_twice = False, False
    user = make_user()
    _imported(postgres, user, make_conversation, 3)
    zero = "[" + ",".join(["0"] * 384) + "]"
    with psycopg.connect(postgres.admin_url) as conn:  # what the previous model left behind
        conn.execute(
            """INSERT INTO message_embeddings (message_id, user_id, conversation_id, model, embedding)
               SELECT id, user_id, conversation_id, 'retired-model-v0', %s::vector FROM messages WHERE user_id = %s""",
            (zero, user.id),
        )
    model = tasks_ai.server.config.app.state.ai.model
    assert set(_models(postgres, user.id).values()) == {"retired-model-v0"}
    assert httpx.post(f"{tasks_ai.url}/ai/reindex", headers=user.headers).json()["queued"] is True
    assert wait_until(lambda: set(_models(postgres, user.id).values()) == {model}, timeout=120)
    assert wait_until(lambda: cloud.stats()[QUEUE]["backlog"] == 0, timeout=60)
