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

Before that, what the operation's ``security`` names (docs/local-cloud.md lists each rule with its Google
page): the user's JWT against the definition's issuer, audiences and JWKS (fetched from ``x-google-jwks_uri``,
here the stack's open keys gateway, and cached five minutes), then an API key from the named header, whose
owning project is the consumer the operation's ``x-google-quota`` costs are charged to, per minute. An operation
without ``security`` (probes, CORS preflights) is forwarded unchecked; a method the API config does not define,
OPTIONS included, gets 404.
"""

from __future__ import annotations

import base64
import fnmatch
import ipaddress
import json
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from grid.localcloud.frontdoor import FrontDoor
from grid.localcloud.identity import Issuer
from grid.localcloud.proxy import Forwarder, client_ip, header, respond
from grid.localcloud.topology import ApiGateway, ArmorRule, LoadBalancer

_REFUSED = re.compile(r"deny\((\d+)\)")
# API Gateway caches a JWKS five minutes (https://cloud.google.com/api-gateway/docs/authenticating-users-jwt).
JWKS_CACHE_SECONDS = 300
UNREGISTERED = (
    "UNAUTHENTICATED: Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


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


class ApiKeys:
    """The API keys made in the local cloud (``gcloud services api-keys create``), each owned by a project: the
    consumer its calls are metered against (https://cloud.google.com/api-gateway/docs/authenticate-api-keys)."""

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    def create(self, project: str) -> str:
        key = "AIza" + secrets.token_urlsafe(26)[:35]
        self.owners[key] = project
        return key


class Quota:
    """Per-minute limits per consumer project (x-google-management quota limits with unit ``1/min/{project}``,
    x-google-quota metricCosts per operation: https://cloud.google.com/api-gateway/docs/quotas-configure).
    The local window is the last 60 seconds; Google's is its own per-minute accounting."""

    def __init__(self, document: dict[str, Any], clock: Callable[[], float] = time.monotonic) -> None:
        management = document.get("x-google-management") or {}
        self.limits = {
            limit["metric"]: (limit["name"], int(limit["values"]["STANDARD"]))
            for limit in (management.get("quota") or {}).get("limits", [])
            if limit.get("unit") == "1/min/{project}"
        }
        self.clock = clock
        self.spent: dict[tuple[str, str], deque[tuple[float, int]]] = defaultdict(deque)

    def allocate(self, project: str, costs: dict[str, int]) -> str | None:
        """None when every metric has room (and the costs are spent), else the exhausted limit's name."""
        now = self.clock()
        windows = {}
        for metric, cost in costs.items():
            if metric not in self.limits:
                continue
            window = self.spent[(project, metric)]
            while window and window[0][0] <= now - 60:
                window.popleft()
            name, limit = self.limits[metric]
            if sum(spent for _, spent in window) + cost > limit:
                return name
            windows[metric] = (window, cost)
        for window, cost in windows.values():
            window.append((now, cost))
        return None


class _Api:
    """One gateway's API config, compiled: its operations, definitions and quota."""

    def __init__(self, gateway: ApiGateway, clock: Callable[[], float]) -> None:
        self.gateway = gateway
        self.definitions: dict[str, Any] = gateway.openapi.get("securityDefinitions") or {}
        self.quota = Quota(gateway.openapi, clock)
        # Exact paths before templates, so /auth/health is not taken by /auth/{rest=**}: ESPv2 orders its routes
        # as its path matcher does, literal segments before wildcards
        # (https://github.com/GoogleCloudPlatform/esp-v2/pull/387).
        ordered = sorted(gateway.openapi.get("paths", {}).items(), key=lambda item: "{" in item[0])
        self.paths = [(_template(path), methods) for path, methods in ordered]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, methods in self.paths:
            if pattern.match(path):
                return methods.get(method.lower())
        return None


class GatewayEntry:
    """API Gateway: routing by the API config, then what the operation's ``security`` requires (the user's JWT,
    then an API key), then the quota, then the call to the backend as the gateway's identity."""

    def __init__(
        self,
        gateway: ApiGateway,
        issuer: Issuer,
        resolve: Any,
        forwarder: Forwarder,
        keys: ApiKeys | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.issuer = issuer
        self.resolve = resolve
        """plan URL -> the local URL that reaches it from the internet"""
        self.forwarder = forwarder
        self.keys = keys or ApiKeys()
        self.clock = clock
        self.apis = {g.hostname: _Api(g, clock) for g in [gateway, *gateway.others]}
        self.jwks: dict[str, tuple[float, dict[str, Any]]] = {}
        """jwks_uri -> (when fetched, kid -> key): API Gateway caches the keys five minutes."""

    @property
    def hostnames(self) -> list[str]:
        return list(self.apis)

    def _api(self, scope: dict[str, Any]) -> _Api:
        host = (header(scope, b"host") or "").split(":")[0]
        return self.apis.get(host) or self.apis[self.gateway.hostname]

    async def _keys(self, uri: str) -> dict[str, Any]:
        cached = self.jwks.get(uri)
        if cached is not None and self.clock() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
        host = urlsplit(uri).hostname or ""
        if host not in self.apis:
            raise LookupError(f"{uri} is not served by the local cloud")
        # Google fetches the keys anonymously from the open keys gateway: here, through its emulation in-process.
        transport = httpx.ASGITransport(app=self)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            response = await client.get(urlsplit(uri).path, headers={"host": host})
        response.raise_for_status()
        keys = {k["kid"]: jwt.PyJWK(k) for k in response.json().get("keys", []) if "kid" in k}
        self.jwks[uri] = (self.clock(), keys)
        return keys

    async def _user(self, scope: dict[str, Any], definition: dict[str, Any]) -> tuple[int, str] | dict[str, Any]:
        """The verified claims of the caller's JWT, else the status and message ESPv2 answers with."""
        scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "Jwt is missing"
        try:
            kid = jwt.get_unverified_header(token.strip()).get("kid")
            keys = await self._keys(definition["x-google-jwks_uri"])
        except (jwt.PyJWTError, httpx.HTTPError, LookupError) as exc:
            return 401, f"Jwks remote fetch is failed or the token is malformed ({type(exc).__name__})"
        key = keys.get(kid)
        if key is None:
            return 401, "Jwks doesn't have key to match kid or alg from Jwt"
        audiences = [a.strip() for a in str(definition.get("x-google-audiences", "")).split(",") if a.strip()]
        try:
            return jwt.decode(
                token.strip(),
                key.key,
                algorithms=[key.algorithm_name],
                audience=audiences or None,
                issuer=definition["x-google-issuer"],
                options={"verify_aud": bool(audiences), "require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            return 401, "Jwt is expired"
        except jwt.InvalidIssuerError:
            return 401, "Jwt issuer is not configured"
        except jwt.InvalidAudienceError:
            return 401, "Audiences in Jwt are not allowed"
        except jwt.PyJWTError:
            return 401, "Jwt verification fails"

    async def _admit(
        self, api: _Api, operation: dict[str, Any], scope: dict[str, Any]
    ) -> tuple[int, str] | tuple[str | None, dict[str, Any] | None]:
        """(consumer project, user claims) when the operation's requirement is met, else (status, message).

        ``security`` lists alternatives, each naming schemes that must all pass; no ``security``: open."""
        requirements = operation.get("security")
        if not requirements:
            return None, None
        refusal: tuple[int, str] = (401, "no security requirement is met")
        for requirement in requirements:
            project: str | None = None
            claims: dict[str, Any] | None = None
            # ESPv2 checks the JWT (jwt_authn) before the API key (service control).
            ordered = sorted(requirement, key=lambda name: api.definitions[name].get("type") != "oauth2")
            for name in ordered:
                definition = api.definitions[name]
                if definition.get("type") == "oauth2":
                    result = await self._user(scope, definition)
                    if isinstance(result, tuple):
                        refusal = result
                        break
                    claims = result
                elif definition.get("type") == "apiKey":
                    key = header(scope, definition["name"].lower().encode())
                    if key is None:
                        refusal = (401, UNREGISTERED)
                        break
                    if key not in self.keys.owners:
                        refusal = (400, "API key not valid. Please pass a valid API key.")
                        break
                    project = self.keys.owners[key]
            else:
                return project, claims
        return refusal

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        api = self._api(scope)
        method = scope.get("method", "GET")
        operation = api.operation(method, scope["path"])
        if operation is None:
            await respond(send, scope, 404, "The current request is not defined by this API.")
            return
        admitted = await self._admit(api, operation, scope)
        if isinstance(admitted[0], int):
            await respond(send, scope, *admitted)
            return
        project, claims = admitted
        costs = (operation.get("x-google-quota") or {}).get("metricCosts") or {}
        if project is not None and costs and (limit := api.quota.allocate(project, costs)) is not None:
            await respond(
                send,
                scope,
                429,
                f"RESOURCE_EXHAUSTED: Quota exceeded for limit '{limit}' of consumer 'project:{project}'.",
            )
            return
        backend = operation.get("x-google-backend") or api.gateway.openapi.get("x-google-backend")
        dropped = (b"authorization", b"x-forwarded-authorization", b"x-apigateway-api-userinfo", b"x-forwarded-for")
        headers = [(k, v) for k, v in scope["headers"] if k not in dropped]
        if (user := header(scope, b"authorization")) is not None:
            headers.append((b"x-forwarded-authorization", user.encode()))
        if claims is not None:
            # The verified token's claims, as API Gateway passes them on
            # (https://cloud.google.com/api-gateway/docs/authenticating-users-jwt#receiving_authenticated_results_in_your_api).
            userinfo = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
            headers.append((b"x-apigateway-api-userinfo", userinfo))
        if backend.get("jwt_audience") and not backend.get("disable_auth"):
            token = self.issuer.id_token(api.gateway.service_account, backend["jwt_audience"])
            headers.append((b"authorization", f"Bearer {token}".encode()))
        previous = header(scope, b"x-forwarded-for")
        ip = client_ip(scope)
        headers.append((b"x-forwarded-for", (f"{previous}, {ip}" if previous else ip).encode()))
        if backend.get("path_translation", "APPEND_PATH_TO_ADDRESS") != "APPEND_PATH_TO_ADDRESS":
            await respond(send, scope, 500, "only APPEND_PATH_TO_ADDRESS is emulated")
            return
        await self.forwarder.forward(scope, receive, send, self.resolve(backend["address"]), headers)
