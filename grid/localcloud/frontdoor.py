"""The Google front end of one Cloud Run service or function: ingress, then IAM, then the container.

Where a request comes from is decided by the listener it arrives on, never by anything the caller sends:
- the URL in ``topology.json`` is the internet's way in;
- the VPC listener is the URL handed to other workloads (their Direct VPC egress reaches the service's
  internal path);
- the load-balancer listener is known only to the local entry point (the serverless NEG's path);
- Pub/Sub push and Cloud Scheduler calls come from Google's own infrastructure, which Cloud Run counts as
  internal traffic of the same project.

Ingress (https://cloud.google.com/run/docs/securing/ingress): ``all`` admits every origin, ``internal``
admits VPC and Google-internal sources, ``internal-and-lb`` also the load balancer; a refused request gets 404,
as from Cloud Run. IAM (https://cloud.google.com/run/docs/securing/managing-access,
https://cloud.google.com/run/docs/authenticating/service-to-service): unless ``allUsers`` holds
roles/run.invoker or the service turns the invoker check off
(https://cloud.google.com/run/docs/authenticating/public#invoker_check), a request needs a Google-signed ID token whose audience is the service's URL (401 without
a valid one) and whose identity holds roles/run.invoker (403 otherwise).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import jwt

from grid.localcloud.identity import Issuer
from grid.localcloud.proxy import Forwarder, client_ip, header, respond
from grid.localcloud.topology import Workload

Origin = Literal["internet", "vpc", "lb", "google"]
ADMITS: dict[str, set[str]] = {
    "all": {"internet", "vpc", "lb", "google"},
    "internal": {"vpc", "google"},
    "internal-and-lb": {"vpc", "lb", "google"},
}


class FrontDoor:
    def __init__(self, workload: Workload, issuer: Issuer, forwarder: Forwarder) -> None:
        self.workload = workload
        self.issuer = issuer
        self.forwarder = forwarder
        self.upstream = ""
        """http://127.0.0.1:<port> of the workload's own process, set once it listens."""
        self.audiences: set[str] = {*workload.urls, *workload.custom_audiences}
        """The service's URLs: the plan's and, once listening, the local ones."""

    def app(self, origin: Origin) -> Any:
        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                return
            await self.handle(scope, receive, send, origin)

        return asgi

    def decide(self, origin: Origin, authorization: str | None) -> tuple[int, str] | None:
        """None to admit the request, else the status and reason Cloud Run would answer with."""
        if origin not in ADMITS[self.workload.ingress]:
            return 404, f"{self.workload.name} does not admit {origin} traffic (ingress {self.workload.ingress})"
        if self.workload.anyone_may_invoke:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 401, "the request has no ID token"
        try:
            caller = self.issuer.verify(token.strip(), self.audiences)
        except jwt.PyJWTError:
            return 401, "the ID token is invalid or for another audience"
        if f"serviceAccount:{caller.email}" not in self.workload.invokers:
            return 403, f"{caller.email} does not have roles/run.invoker on {self.workload.resource_name}"
        return None

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, origin: Origin) -> None:
        refusal = self.decide(origin, header(scope, b"authorization"))
        if refusal is not None:
            await respond(send, scope, *refusal)
            return
        headers = list(scope["headers"])
        if origin != "lb":  # the load balancer has appended the client and itself already
            # Cloud Run's front end appends the peer it saw to X-Forwarded-For.
            headers = [(k, v) for k, v in headers if k != b"x-forwarded-for"]
            previous = header(scope, b"x-forwarded-for")
            peer = client_ip(scope)
            headers.append((b"x-forwarded-for", (f"{previous}, {peer}" if previous else peer).encode()))
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] in ("http.response.start", "websocket.accept")
            await send(message)

        try:
            # The request timeout bounds the whole request, a WebSocket's whole life included
            # (https://cloud.google.com/run/docs/triggering/websockets).
            await asyncio.wait_for(
                self.forwarder.forward(scope, receive, tracked, self.upstream, headers), self.workload.timeout_s
            )
        except TimeoutError:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1011, "reason": "request timeout"})
            elif not started:
                await respond(send, scope, 504, "upstream request timeout")
