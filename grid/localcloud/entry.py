"""The stack's public entry point, from the plan: its HTTPS load balancer or its API Gateway.

Load balancer (https://cloud.google.com/load-balancing/docs/url-map-concepts): the URL map's host rules pick
a path matcher, the longest matching path rule its backend service, else the matcher's default; the backend's
Cloud Armor policy is evaluated first (https://cloud.google.com/armor/docs/security-policy-overview: rules by
priority, first match wins; source-IP rules and per-IP rate-based bans are evaluated, preconfigured WAF
expressions are not). The load balancer appends the client and its own address to X-Forwarded-For
(https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header) and reaches the service through
its serverless NEG (the workload's load-balancer listener).

API Gateway (https://cloud.google.com/api-gateway/docs/oasv2-extensions#x-google-backend): only the paths in
the OpenAPI document are served (404 otherwise); ``x-google-backend.address`` with APPEND_PATH_TO_ADDRESS is
where the request goes, and with ``jwt_audience`` the gateway calls as its own service account with a
Google-signed ID token for that audience in ``Authorization``, moving the caller's ``Authorization`` header to
``X-Forwarded-Authorization``. It calls the backend's public URL, as any internet client would.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import time
from collections import defaultdict, deque
from typing import Any

from grid.localcloud.frontdoor import FrontDoor
from grid.localcloud.identity import Issuer
from grid.localcloud.proxy import Forwarder, client_ip, header, respond
from grid.localcloud.topology import ApiGateway, ArmorRule, LoadBalancer

_REFUSED = re.compile(r"deny\((\d+)\)")


class Armor:
    """Source-IP allow/deny rules and per-IP rate-based bans of one security policy."""

    def __init__(self, rules: list[ArmorRule]) -> None:
        self.rules = rules
        self.seen: dict[tuple[int, str], deque[float]] = defaultdict(deque)
        self.banned: dict[tuple[int, str], float] = {}

    @staticmethod
    def _matches(rule: ArmorRule, ip: str) -> bool:
        if rule.src_ranges is None:
            return False  # preconfigured WAF expression: not evaluated locally
        return any(
            r == "*" or ipaddress.ip_address(ip) in ipaddress.ip_network(r, strict=False) for r in rule.src_ranges
        )

    def decide(self, ip: str) -> int | None:
        """None to allow, else the HTTP status Armor answers with."""
        now = time.monotonic()
        for rule in self.rules:
            if not self._matches(rule, ip):
                continue
            if rule.action == "allow":
                return None
            if denied := _REFUSED.fullmatch(rule.action):
                return int(denied.group(1))
            if rule.action in ("rate_based_ban", "throttle") and rule.rate_limit:
                count, interval, ban = rule.rate_limit
                key = (rule.priority, ip)
                if self.banned.get(key, 0) > now:
                    return 429
                window = self.seen[key]
                window.append(now)
                while window and window[0] <= now - interval:
                    window.popleft()
                if len(window) > count:
                    if rule.action == "rate_based_ban" and ban:
                        self.banned[key] = now + ban
                    return 429
                continue  # conform: evaluation goes on to the next rule
        return None


class LoadBalancerEntry:
    def __init__(
        self, lb: LoadBalancer, doors: dict[str, FrontDoor], lb_urls: dict[str, str], forwarder: Forwarder
    ) -> None:
        self.lb = lb
        self.doors = doors
        self.lb_urls = lb_urls
        self.forwarder = forwarder
        self.armor = {name: Armor(rules) for name, rules in lb.armor.items()}

    def route(self, host: str, path: str) -> str | None:
        host = host.split(":")[0]
        for rule in self.lb.routes:
            if any(h == "*" or fnmatch.fnmatch(host, h) for h in rule.hosts):
                best: tuple[int, str] | None = None
                for patterns, workload in rule.paths:
                    for pattern in patterns:
                        hit = path.startswith(pattern[:-1]) if pattern.endswith("/*") else path == pattern
                        if hit and (best is None or len(pattern) > best[0]):
                            best = (len(pattern), workload)
                return best[1] if best else rule.default
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        workload = self.route(header(scope, b"host") or "", scope["path"])
        if workload is None:
            await respond(send, scope, 404, "no host rule matches")
            return
        ip = client_ip(scope)
        armor = self.armor.get(workload)
        if armor is not None and (status := armor.decide(ip)) is not None:
            await respond(send, scope, status, "refused by Cloud Armor")
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"x-forwarded-for"]
        previous = header(scope, b"x-forwarded-for")
        chain = f"{previous}, {ip}" if previous else ip
        headers.append((b"x-forwarded-for", f"{chain}, {self.lb.address or '127.0.0.1'}".encode()))
        headers.append((b"x-forwarded-proto", b"https"))
        await self.forwarder.forward(scope, receive, send, self.lb_urls[workload], headers)


def _template(path: str) -> re.Pattern[str]:
    """An OpenAPI path template with API Gateway's ``{name=**}`` (any rest) and ``{name}`` (one segment)."""
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            pattern += ".+" if part.endswith("=**}") else "[^/]+"
        else:
            pattern += re.escape(part)
    return re.compile(pattern + "$")


class GatewayEntry:
    def __init__(self, gateway: ApiGateway, issuer: Issuer, resolve: Any, forwarder: Forwarder) -> None:
        self.gateway = gateway
        self.issuer = issuer
        self.resolve = resolve
        """plan URL -> the local URL that reaches it from the internet"""
        self.forwarder = forwarder
        self.paths = [(_template(path), methods) for path, methods in gateway.openapi.get("paths", {}).items()]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, methods in self.paths:
            if pattern.match(path):
                return methods.get(method.lower())
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        method = scope.get("method", "GET")
        operation = self.operation(method, scope["path"])
        if operation is None:
            await respond(send, scope, 404, "The current request is not defined by this API.")
            return
        backend = operation.get("x-google-backend") or self.gateway.openapi.get("x-google-backend")
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"authorization", b"x-forwarded-authorization")]
        if (user := header(scope, b"authorization")) is not None:
            headers.append((b"x-forwarded-authorization", user.encode()))
        if backend.get("jwt_audience") and not backend.get("disable_auth"):
            token = self.issuer.id_token(self.gateway.service_account, backend["jwt_audience"])
            headers.append((b"authorization", f"Bearer {token}".encode()))
        previous = header(scope, b"x-forwarded-for")
        ip = client_ip(scope)
        headers = [(k, v) for k, v in headers if k != b"x-forwarded-for"]
        headers.append((b"x-forwarded-for", (f"{previous}, {ip}" if previous else ip).encode()))
        if backend.get("path_translation", "APPEND_PATH_TO_ADDRESS") != "APPEND_PATH_TO_ADDRESS":
            await respond(send, scope, 500, "only APPEND_PATH_TO_ADDRESS is emulated")
            return
        await self.forwarder.forward(scope, receive, send, self.resolve(backend["address"]), headers)
