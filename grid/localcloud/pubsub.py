"""Pub/Sub from the plan's topics and subscriptions, over the REST surface the apps use.

- publish checks the topic's publisher grants (https://cloud.google.com/pubsub/docs/access-control);
- pull / acknowledge / modifyAckDeadline check the subscription's subscriber grants; a lease not acknowledged
  within the ack deadline is redelivered;
- push subscriptions POST the JSON envelope with an OIDC token for the subscription's service account and
  audience (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions) and retry a non-2xx answer
  with the subscription's exponential backoff (https://cloud.google.com/pubsub/docs/handling-failures);
- a subscription with a filter only gets the messages whose attributes it admits (grid/localcloud/filters.py);
- after the dead-letter policy's max delivery attempts a message moves to the dead-letter topic
  (https://cloud.google.com/pubsub/docs/dead-letter-topics).
Messages live in memory: a restart of the local cloud loses undelivered ones (see docs/local-cloud.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from grid.localcloud.filters import Predicate, compile_filter
from grid.localcloud.topology import Subscription

log = logging.getLogger("grid.localcloud.pubsub")
_ids = itertools.count(1)

Push = Callable[[Subscription, dict[str, Any]], Awaitable[int]]
"""Deliver one push envelope; returns the HTTP status the endpoint answered."""


@dataclass
class Message:
    message_id: str
    data: str
    attributes: dict[str, str]
    publish_time: str
    attempts: int = 0
    not_before: float = 0.0

    def wire(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "attributes": self.attributes,
            "messageId": self.message_id,
            "publishTime": self.publish_time,
        }


@dataclass
class _SubState:
    spec: Subscription
    admits: Predicate
    ready: list[Message] = field(default_factory=list)
    leased: dict[str, tuple[Message, float]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    delivered: int = 0
    dead_lettered: int = 0


class Forbidden(Exception):
    pass


class PubSub:
    def __init__(
        self,
        topics: dict[str, set[str]],
        subscriptions: dict[str, Subscription],
        push: Push,
        *,
        retry_scale: float = 1.0,
    ) -> None:
        self.topics = topics
        self.subs = {name: _SubState(spec, compile_filter(spec.filter)) for name, spec in subscriptions.items()}
        self.push = push
        self.retry_scale = retry_scale
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.ensure_future(self._expire_leases()))
        for state in self.subs.values():
            if state.spec.push_endpoint:
                self._tasks.append(asyncio.ensure_future(self._push_loop(state)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def publish(self, topic: str, messages: list[dict[str, Any]], member: str | None) -> list[str]:
        if topic not in self.topics:
            raise KeyError(topic)
        if member is not None and member not in self.topics[topic]:
            raise Forbidden(f"{member} may not publish to {topic}")
        ids = []
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for item in messages:
            message_id = str(next(_ids))
            ids.append(message_id)
            attributes = dict(item.get("attributes") or {})
            for state in self.subs.values():
                # A filtered-out message is acknowledged for the subscription at once: never delivered.
                if state.spec.topic == topic and state.admits(attributes):
                    state.ready.append(Message(message_id, item.get("data", ""), dict(attributes), now))
                    state.arrived.set()
        return ids

    def _state(self, subscription: str, member: str | None) -> _SubState:
        state = self.subs.get(subscription)
        if state is None:
            raise KeyError(subscription)
        if member is not None and member not in state.spec.subscribers:
            raise Forbidden(f"{member} may not consume {subscription}")
        return state

    async def pull(
        self, subscription: str, max_messages: int, member: str | None, wait: float = 10.0
    ) -> list[dict[str, Any]]:
        state = self._state(subscription, member)
        deadline = time.monotonic() + wait
        while True:
            now = time.monotonic()
            ready = [m for m in state.ready if m.not_before <= now][:max_messages]
            if ready or now >= deadline:
                break
            state.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.arrived.wait(), timeout=min(1.0, deadline - now))
        received = []
        for message in ready:
            state.ready.remove(message)
            message.attempts += 1
            ack_id = f"{subscription}:{message.message_id}:{message.attempts}"
            state.leased[ack_id] = (message, time.monotonic() + state.spec.ack_deadline)
            item: dict[str, Any] = {"ackId": ack_id, "message": message.wire()}
            if state.spec.dead_letter_topic:
                item["deliveryAttempt"] = message.attempts
            received.append(item)
        return received

    def acknowledge(self, subscription: str, ack_ids: list[str], member: str | None) -> None:
        state = self._state(subscription, member)
        for ack_id in ack_ids:
            if state.leased.pop(ack_id, None) is not None:
                state.delivered += 1

    def modify_ack_deadline(self, subscription: str, ack_ids: list[str], seconds: int, member: str | None) -> None:
        state = self._state(subscription, member)
        for ack_id in ack_ids:
            if ack_id in state.leased:
                message, _ = state.leased[ack_id]
                if seconds == 0:  # a nack
                    del state.leased[ack_id]
                    self._redeliver(state, message)
                else:
                    state.leased[ack_id] = (message, time.monotonic() + seconds)

    def _redeliver(self, state: _SubState, message: Message) -> None:
        spec = state.spec
        if spec.dead_letter_topic and spec.max_attempts and message.attempts >= spec.max_attempts:
            state.dead_lettered += 1
            log.warning(
                "dead-lettering message %s of %s after %d attempts", message.message_id, spec.name, message.attempts
            )
            self.publish(spec.dead_letter_topic, [{"data": message.data, "attributes": message.attributes}], None)
            return
        backoff = min(spec.min_backoff * 2 ** max(message.attempts - 1, 0), spec.max_backoff) * self.retry_scale
        message.not_before = time.monotonic() + backoff
        state.ready.append(message)
        state.arrived.set()

    async def _expire_leases(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for state in self.subs.values():
                for ack_id, (message, until) in list(state.leased.items()):
                    if until <= now:
                        del state.leased[ack_id]
                        self._redeliver(state, message)

    async def _push_loop(self, state: _SubState) -> None:
        while True:
            received = await self.pull(state.spec.name, 1, None, wait=5.0)
            for item in received:
                message, _ = state.leased[item["ackId"]]
                envelope = {"message": item["message"], "subscription": state.spec.name}
                if "deliveryAttempt" in item:
                    envelope["deliveryAttempt"] = item["deliveryAttempt"]
                try:
                    status = await self.push(state.spec, envelope)
                except Exception as exc:  # the endpoint is down: a failed attempt, like any non-2xx
                    log.warning("push to %s failed: %s", state.spec.push_endpoint, type(exc).__name__)
                    status = 503
                if 200 <= status < 300 or status == 102:
                    self.acknowledge(state.spec.name, [item["ackId"]], None)
                else:
                    state.leased.pop(item["ackId"], None)
                    self._redeliver(state, message)

    def stats(self) -> dict[str, Any]:
        return {
            name: {"backlog": len(s.ready) + len(s.leased), "delivered": s.delivered, "deadLettered": s.dead_lettered}
            for name, s in self.subs.items()
        }


def pubsub_routes(pubsub: PubSub, member: str) -> list[Route]:
    """Pub/Sub's REST methods as ``member`` (the workload this listener belongs to) calls them."""

    async def call(request: Request) -> Response:
        resource, _, verb = request.path_params["rest"].partition(":")
        body = await request.json() if await request.body() else {}
        try:
            if "/topics/" in resource and verb == "publish":
                ids = pubsub.publish(resource, body.get("messages", []), member)
                return JSONResponse({"messageIds": ids})
            if "/subscriptions/" in resource and verb == "pull":
                wait = 0.0 if body.get("returnImmediately") else 10.0
                received = await pubsub.pull(resource, int(body.get("maxMessages", 1)), member, wait=wait)
                return JSONResponse({"receivedMessages": received} if received else {})
            if "/subscriptions/" in resource and verb == "acknowledge":
                pubsub.acknowledge(resource, list(body.get("ackIds", [])), member)
                return JSONResponse({})
            if "/subscriptions/" in resource and verb == "modifyAckDeadline":
                pubsub.modify_ack_deadline(
                    resource, list(body.get("ackIds", [])), int(body.get("ackDeadlineSeconds", 0)), member
                )
                return JSONResponse({})
        except KeyError:
            return JSONResponse({"error": {"code": 404, "message": f"Resource not found (resource={resource})."}}, 404)
        except Forbidden as exc:
            return JSONResponse({"error": {"code": 403, "message": str(exc), "status": "PERMISSION_DENIED"}}, 403)
        return JSONResponse({"error": {"code": 400, "message": f"unsupported method {verb}"}}, 400)

    return [Route("/v1/{rest:path}", call, methods=["POST"])]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
