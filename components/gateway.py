"""The public entry: global external HTTPS load balancer with Cloud Armor and CDN, or API Gateway.

Apigee was an option and is not any more: docs/adr/0008-no-apigee.md.

Routing is the same everywhere (docs/design.md §7): ``/auth/*`` -> auth, ``/ai/*`` -> ai, ``/fn/<name>/*`` -> that
function, everything else -> api.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator, model_validator

from components._base import GridComponent
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel

# --- config: the typed, validated input of this component (grid:gateway in a stack file) ---


class ArmorConfig(ConfigModel):
    enabled: bool = True
    rate_limit_per_minute: int = Field(600, ge=10, le=100000, description="Requests per client IP per minute.")
    ban_duration_seconds: int = Field(600, ge=60, le=86400)
    waf_rules: list[
        Literal["xss", "sqli", "lfi", "rfi", "rce", "scannerdetection", "protocolattack", "sessionfixation"]
    ] = Field(default_factory=lambda: ["xss", "sqli", "lfi", "rce"])
    waf_sensitivity: int = Field(1, ge=1, le=4)
    allowlist: list[str] = Field(default_factory=list, description="CIDRs never rate-limited (e.g. uptime checkers).")
    adaptive_protection: bool = False


# A browser origin: scheme, host and optional port (https://www.rfc-editor.org/rfc/rfc6454#section-4).
_ORIGIN = re.compile(
    r"^https?://([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*(:\d{1,5})?$"
)
_LOCAL_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$")


class GatewayConfig(ConfigModel):
    """The public entry: a global HTTPS load balancer (+ Armor, CDN), API Gateway, or none."""

    type: Literal["loadBalancer", "apiGateway", "none"] = "apiGateway"
    domains: list[str] = Field(default_factory=list, description="Hostnames for the managed certificate.")
    cdn: bool = False
    armor: ArmorConfig = ArmorConfig()
    ssl_profile: Literal["MODERN", "RESTRICTED"] = "MODERN"
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (https://host[:port]) the services answer cross-origin requests from; "
        "empty: none (same-origin and non-browser clients only).",
    )
    quota_per_minute: int = Field(
        600,
        ge=1,
        le=1_000_000,
        description="apiGateway: requests per minute per consumer, the Google project that owns the caller's API key.",
    )

    @field_validator("type", mode="before")
    @classmethod
    def _no_apigee(cls, value: object) -> object:
        if value == "apigee":
            raise ValueError("apigee is no longer offered (why: docs/adr/0008-no-apigee.md); use loadBalancer")
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if not re.match(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", domain):
                raise ValueError(f"'{domain}' is not a valid DNS name")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*":
                raise ValueError("allowedOrigins: name each origin; '*' lets any web page call the API as its user")
            if not _ORIGIN.match(origin) or (origin.startswith("http:") and not _LOCAL_ORIGIN.match(origin)):
                raise ValueError(
                    f"allowedOrigins: '{origin}' is not an origin; write https://host[:port] (http only for "
                    "localhost), with no path or trailing slash"
                )
        return value

    @property
    def serves_domains(self) -> bool:
        """The entry point answers on ``domains`` (API Gateway has only its own gateway hostname)."""
        return self.type == "loadBalancer"

    @model_validator(mode="after")
    def _needs(self) -> GatewayConfig:
        if self.serves_domains and not self.domains:
            raise ValueError(f"type {self.type} needs at least one entry in domains for its managed certificate")
        if self.cdn and self.type != "loadBalancer":
            raise ValueError("cdn needs type loadBalancer")
        if "quota_per_minute" in self.model_fields_set and self.type != "apiGateway":
            raise ValueError("quotaPerMinute is enforced by API Gateway only: remove it or use type apiGateway")
        for cidr in self.armor.allowlist:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"armor.allowlist: '{cidr}' is not a CIDR") from None
        return self


compute = gcp.compute

# Cloud Armor preconfigured WAF rule sets (https://cloud.google.com/armor/docs/waf-rules), 2026-11.
WAF_RULE_SETS = {
    "xss": "xss-v33-stable",
    "sqli": "sqli-v33-stable",
    "lfi": "lfi-v33-stable",
    "rfi": "rfi-v33-stable",
    "rce": "rce-v33-stable",
    "scannerdetection": "scannerdetection-v33-stable",
    "protocolattack": "protocolattack-v33-stable",
    "sessionfixation": "sessionfixation-v33-stable",
}
# The CVE rule set (Log4j signatures), always on: https://cloud.google.com/armor/docs/waf-rules#cves_and_other_vulnerabilities
# and https://cloud.google.com/armor/docs/rule-tuning (without a sensitivity, all signatures are evaluated).
CVE_RULE_SET = "cve-canary"
DEFAULT_RULE_PRIORITY = 2147483647


@dataclass
class Backend:
    """One routed service behind the gateway."""

    key: str
    """Short name used in resource names (auth, api, ai, fn-korean-nlp)."""
    kind: Literal["run", "function"]
    service_name: pulumi.Input[str]
    """Cloud Run service or Cloud Function name."""
    path_prefix: str | None
    """``/auth`` routes ``/auth`` and ``/auth/*`` here; None marks the default (api) backend."""
    uri: pulumi.Input[str] | None = None
    """The service's own URL (API Gateway forwards to it)."""
    cdn: bool = False
    """Cache responses at the edge (only what the service marks cacheable)."""
    public_paths: Sequence[str] | None = None
    """Only these exact paths are routed (the rest of the prefix is not public); None routes the whole prefix."""
    user_token: bool = True
    """API Gateway demands the user's access token here (stacks/routes.py's Route.user_token)."""
    probe_paths: Sequence[str] = ()
    """The service's health and readiness paths: open at API Gateway, for uptime checks."""
    timeout_seconds: float = 60.0
    """The workload's own request timeout: API Gateway waits as long for its answer (the backend's deadline, at
    most API Gateway's 3600 s), so a request the workload may still answer is not cut at the gateway first."""

    def paths(self) -> list[str]:
        """URL-map path patterns of this (non-default) backend."""
        assert self.path_prefix is not None
        return list(self.public_paths) if self.public_paths else route_paths(self.path_prefix)


def default_backends(backends: Sequence[Backend]) -> list[Backend]:
    """The backends of the default route (``path_prefix`` None): a load balancer has exactly one."""
    return [b for b in backends if b.path_prefix is None]


def route_paths(prefix: str) -> list[str]:
    return [prefix, f"{prefix}/*"]


# --- Cloud Armor --------------------------------------------------------------------------------------------


@dataclass
class ArmorArgs:
    config: ArmorConfig
    project: str


class ArmorPolicy(GridComponent):
    """Cloud Armor: allow-list, preconfigured WAF rules, per-IP rate limiting with ban, adaptive protection."""

    _module = "gateway"

    id: pulumi.Output[str]

    def __init__(self, name: str, args: ArmorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        rules: list[compute.SecurityPolicyRuleArgs] = []
        if cfg.allowlist:
            rules.append(
                compute.SecurityPolicyRuleArgs(
                    priority=100,
                    action="allow",
                    description="Allow-listed ranges (monitoring) skip WAF and rate limits.",
                    match=compute.SecurityPolicyRuleMatchArgs(
                        versioned_expr="SRC_IPS_V1",
                        config=compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=list(cfg.allowlist)),
                    ),
                )
            )
        for offset, rule in enumerate(cfg.waf_rules):
            rules.append(
                compute.SecurityPolicyRuleArgs(
                    priority=1000 + offset,
                    action="deny(403)",
                    description=f"Preconfigured WAF: {WAF_RULE_SETS[rule]}",
                    match=compute.SecurityPolicyRuleMatchArgs(
                        expr=compute.SecurityPolicyRuleMatchExprArgs(
                            expression=(
                                f"evaluatePreconfiguredWaf('{WAF_RULE_SETS[rule]}', "
                                f"{{'sensitivity': {cfg.waf_sensitivity}}})"
                            )
                        )
                    ),
                )
            )
        rules.append(
            compute.SecurityPolicyRuleArgs(
                priority=1000 + len(cfg.waf_rules),
                action="deny(403)",
                description=f"Preconfigured WAF: {CVE_RULE_SET} (Log4j CVE-2021-44228/45046)",
                match=compute.SecurityPolicyRuleMatchArgs(
                    # No sensitivity: every cve-canary signature is evaluated (Armor's default level is 4).
                    expr=compute.SecurityPolicyRuleMatchExprArgs(
                        expression=f"evaluatePreconfiguredWaf('{CVE_RULE_SET}')"
                    )
                ),
            )
        )
        rules.append(
            compute.SecurityPolicyRuleArgs(
                priority=2000,
                action="rate_based_ban",
                description=f"Per-IP rate limit: {cfg.rate_limit_per_minute}/min, then a {cfg.ban_duration_seconds}s ban.",
                match=compute.SecurityPolicyRuleMatchArgs(
                    versioned_expr="SRC_IPS_V1",
                    config=compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]),
                ),
                rate_limit_options=compute.SecurityPolicyRuleRateLimitOptionsArgs(
                    conform_action="allow",
                    exceed_action="deny(429)",
                    enforce_on_key="IP",
                    rate_limit_threshold=compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
                        count=cfg.rate_limit_per_minute, interval_sec=60
                    ),
                    ban_duration_sec=cfg.ban_duration_seconds,
                ),
            )
        )
        rules.append(
            compute.SecurityPolicyRuleArgs(
                priority=DEFAULT_RULE_PRIORITY,
                action="allow",
                description="Default: allow what no rule above denied.",
                match=compute.SecurityPolicyRuleMatchArgs(
                    versioned_expr="SRC_IPS_V1",
                    config=compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]),
                ),
            )
        )
        policy = compute.SecurityPolicy(
            self.child_name("policy"),
            project=args.project,
            type="CLOUD_ARMOR",
            description="Grid edge policy: WAF, rate limiting, allow-list.",
            rules=rules,
            adaptive_protection_config=compute.SecurityPolicyAdaptiveProtectionConfigArgs(
                layer7_ddos_defense_config=compute.SecurityPolicyAdaptiveProtectionConfigLayer7DdosDefenseConfigArgs(
                    enable=True, rule_visibility="STANDARD"
                )
            )
            if cfg.adaptive_protection
            else None,
            opts=self.child_opts(),
        )
        self.id = policy.id
        self.register_outputs({"id": self.id})


# --- HTTPS load balancer ------------------------------------------------------------------------------------


@dataclass
class LoadBalancerArgs:
    project: str
    region: str
    domains: Sequence[str]
    """Hostnames on the Google-managed certificate (DNS A records must point at ``ip_address``)."""
    backends: Sequence[Backend]
    """Routed services; exactly one has ``path_prefix=None`` (the default route)."""
    security_policy: pulumi.Input[str] | None
    """Cloud Armor policy attached to every backend service."""
    ssl_profile: str = "MODERN"
    log_sample_rate: float = 1.0
    candidate_tag: str | None = None
    """Tagged rollouts: ``<tag>.<first domain>`` routes to each Cloud Run service's revision with this tag, so
    a new revision can be smoke-tested through the load balancer (and Armor) before it takes traffic."""

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done).
        defaults = [b.key for b in default_backends(self.backends)]
        if len(defaults) != 1:
            raise ValueError(
                "exactly one backend must be the default route (path_prefix=None), got "
                f"{len(defaults)}{': ' + ', '.join(defaults) if defaults else ''}: give every other backend a "
                "path_prefix"
            )


class HttpsLoadBalancer(GridComponent):
    """Global external Application Load Balancer (EXTERNAL_MANAGED) in front of serverless NEGs."""

    _module = "gateway"

    ip_address: pulumi.Output[str]
    backend_services: dict[str, pulumi.Output[str]]
    candidate_host: str | None
    """``<tag>.<domain>``: the hostname that reaches candidate revisions (point its DNS at ``ip_address`` too)."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        address = compute.GlobalAddress(
            self.child_name("ip"),
            project=args.project,
            address_type="EXTERNAL",
            ip_version="IPV4",
            opts=self.child_opts(),
        )
        self.candidate_host = f"{args.candidate_tag}.{args.domains[0]}" if args.candidate_tag and args.domains else None
        certificate = compute.ManagedSslCertificate(
            self.child_name("cert"),
            project=args.project,
            managed=compute.ManagedSslCertificateManagedArgs(
                domains=[*args.domains, *([self.candidate_host] if self.candidate_host else [])]
            ),
            opts=self.child_opts(),
        )
        ssl_policy = compute.SSLPolicy(
            self.child_name("ssl"),
            project=args.project,
            profile=args.ssl_profile,
            min_tls_version="TLS_1_2",
            opts=self.child_opts(),
        )
        services = {b.key: self._backend_service(b.key, b, None, args) for b in args.backends}
        host_rules = [compute.URLMapHostRuleArgs(hosts=["*"], path_matcher="routes")]
        matchers = [_path_matcher("routes", args.backends, services)]
        if args.candidate_tag and args.domains:
            # Candidate revisions of Cloud Run services; functions have no tags and serve as they are.
            candidates = {
                b.key: self._backend_service(f"{b.key}-{args.candidate_tag}", b, args.candidate_tag, args)
                if b.kind == "run"
                else services[b.key]
                for b in args.backends
            }
            host_rules.append(compute.URLMapHostRuleArgs(hosts=[self.candidate_host], path_matcher="candidate"))
            matchers.append(_path_matcher("candidate", args.backends, candidates))
        url_map = compute.URLMap(
            self.child_name("urlmap"),
            project=args.project,
            default_service=services[default_backends(args.backends)[0].key].id,
            host_rules=host_rules,
            path_matchers=matchers,
            opts=self.child_opts(),
        )
        https_proxy = compute.TargetHttpsProxy(
            self.child_name("https-proxy"),
            project=args.project,
            url_map=url_map.id,
            ssl_certificates=[certificate.id],
            ssl_policy=ssl_policy.id,
            opts=self.child_opts(),
        )
        compute.GlobalForwardingRule(
            self.child_name("https"),
            project=args.project,
            load_balancing_scheme="EXTERNAL_MANAGED",
            ip_address=address.address,
            ip_protocol="TCP",
            port_range="443",
            target=https_proxy.id,
            opts=self.child_opts(),
        )
        # Port 80 only ever answers with a redirect to HTTPS.
        redirect_map = compute.URLMap(
            self.child_name("redirect"),
            project=args.project,
            default_url_redirect=compute.URLMapDefaultUrlRedirectArgs(
                https_redirect=True, strip_query=False, redirect_response_code="MOVED_PERMANENTLY_DEFAULT"
            ),
            opts=self.child_opts(),
        )
        http_proxy = compute.TargetHttpProxy(
            self.child_name("http-proxy"), project=args.project, url_map=redirect_map.id, opts=self.child_opts()
        )
        compute.GlobalForwardingRule(
            self.child_name("http"),
            project=args.project,
            load_balancing_scheme="EXTERNAL_MANAGED",
            ip_address=address.address,
            ip_protocol="TCP",
            port_range="80",
            target=http_proxy.id,
            opts=self.child_opts(),
        )
        self.ip_address = address.address
        self.backend_services = {k: s.id for k, s in services.items()}
        self.register_outputs({"ip_address": self.ip_address})

    def _backend_service(
        self, key: str, backend: Backend, tag: str | None, args: LoadBalancerArgs
    ) -> compute.BackendService:
        """A serverless NEG for ``backend`` (one tagged revision when ``tag`` is set) and its backend service."""
        neg = compute.RegionNetworkEndpointGroup(
            self.child_name(f"{key}-neg"),
            project=args.project,
            region=args.region,
            network_endpoint_type="SERVERLESS",
            cloud_run=compute.RegionNetworkEndpointGroupCloudRunArgs(service=backend.service_name, tag=tag)
            if backend.kind == "run"
            else None,
            cloud_function=compute.RegionNetworkEndpointGroupCloudFunctionArgs(function=backend.service_name)
            if backend.kind == "function"
            else None,
            opts=self.child_opts(),
        )
        cdn = backend.cdn and tag is None  # a candidate is never cached
        return compute.BackendService(
            self.child_name(f"{key}-backend"),
            project=args.project,
            load_balancing_scheme="EXTERNAL_MANAGED",
            protocol="HTTPS",
            backends=[compute.BackendServiceBackendArgs(group=neg.id)],
            security_policy=args.security_policy,
            log_config=compute.BackendServiceLogConfigArgs(enable=True, sample_rate=args.log_sample_rate),
            enable_cdn=cdn,
            cdn_policy=_cdn_policy() if cdn else None,
            opts=self.child_opts(),
        )


def _path_matcher(
    name: str, backends: Sequence[Backend], services: Mapping[str, compute.BackendService]
) -> compute.URLMapPathMatcherArgs:
    """docs/design.md §7's routing over ``services``: each prefix to its backend, everything else to the default one."""
    default = services[default_backends(backends)[0].key]
    return compute.URLMapPathMatcherArgs(
        name=name,
        default_service=default.id,
        path_rules=[
            compute.URLMapPathMatcherPathRuleArgs(paths=b.paths(), service=services[b.key].id)
            for b in backends
            if b.path_prefix is not None
        ],
    )


def _cdn_policy() -> compute.BackendServiceCdnPolicyArgs:
    """Cache only what the service marks public (app/common/caching.py); never key on cookies; cache no errors.

    USE_ORIGIN_HEADERS caches a response only when its Cache-Control says it may
    (https://cloud.google.com/cdn/docs/caching#cache-modes). Negative caching is off: every error the services send
    is `no-store`, and an error without one (a 404 the load balancer itself answers) is about one request, which
    the CDN should not repeat to others (https://cloud.google.com/cdn/docs/using-negative-caching). The query
    string is in the key: verifiers fetch the JWKS with `?kid=` to get past a cached copy after a key rotation.
    """
    return compute.BackendServiceCdnPolicyArgs(
        cache_mode="USE_ORIGIN_HEADERS",
        cache_key_policy=compute.BackendServiceCdnPolicyCacheKeyPolicyArgs(
            include_host=True, include_protocol=True, include_query_string=True
        ),
        negative_caching=False,
        serve_while_stale=86400,
        request_coalescing=True,
        signed_url_cache_max_age_sec=0,
    )


# --- API Gateway --------------------------------------------------------------------------------------------

# The gateway's own checks, each as Google documents it for API Gateway's OpenAPI 2.0 configs:
# - the user's JWT: https://cloud.google.com/api-gateway/docs/authenticating-users-jwt (securityDefinitions with
#   x-google-issuer, x-google-jwks_uri, x-google-audiences; an operation's `security` names what it requires);
# - API keys: https://cloud.google.com/api-gateway/docs/authenticate-api-keys (an apiKey definition; the managed
#   service must be enabled in the project that owns the key);
# - quotas: https://cloud.google.com/api-gateway/docs/quotas-configure (x-google-management metrics and limits,
#   x-google-quota metricCosts per operation; limits are per minute per consumer project, the API key's);
# - CORS: API Gateway runs ESPv2 without its CORS flags, so a preflight is answered by the backend; an OPTIONS
#   operation with no `security` lets it through (https://cloud.google.com/endpoints/docs/openapi/support-cors).
USER_TOKEN = "grid_user"
API_KEY = "api_key"
API_KEY_HEADER = "x-api-key"
QUOTA_METRIC = "grid-requests"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class EdgeArgs:
    """What API Gateway enforces itself before a request reaches a service."""

    issuer: str
    """``iss`` of the access tokens auth signs."""
    audience: str
    """``aud`` of those tokens."""
    jwks_backend: str
    """Key of the backend that serves the public keys (auth)."""
    jwks_path: str
    """Their path on it (``/auth/.well-known/jwks.json``)."""
    quota_per_minute: int
    """Requests per minute per consumer (the project of the caller's API key)."""
    allowed_origins: Sequence[str] = ()
    """Browser origins allowed cross-origin; empty: no OPTIONS operations (preflights get 404)."""


def openapi_spec(
    title: str,
    backends: Sequence[Backend],
    uris: Mapping[str, str],
    edge: EdgeArgs | None = None,
    jwks_uri: str = "",
) -> str:
    """Swagger 2.0 for API Gateway from the routing table: each prefix forwards every method to its service.

    With ``edge``, the gateway checks the user's token (except on probes and on routes without ``user_token``)
    and an API key on every other operation, meters each keyed call against the per-consumer quota, and lets
    CORS preflights of every path through to the workload that answers them; Google fetches the keys that sign
    the user's token from ``jwks_uri`` (and caches them five minutes)."""
    paths: dict[str, dict] = {}
    for backend in backends:
        uri = uris[backend.key]
        operation_id = backend.key.replace("-", "_")
        routed = list(backend.public_paths) if backend.public_paths else _gateway_paths(backend)
        probes = [p for p in backend.probe_paths if p not in routed]
        for index, path in enumerate([*routed, *probes]):
            params = [{"name": "rest", "in": "path", "required": True, "type": "string"}] if "{rest" in path else []
            requirement = _requirement(backend, path, edge)
            deadline = min(float(backend.timeout_seconds), gcp_limits.API_GATEWAY_MAX_DEADLINE_SECONDS)
            item = {
                method: _operation(f"{operation_id}_{method}_{index}", uri, params, requirement, deadline)
                for method in METHODS
            }
            if edge is not None and edge.allowed_origins:
                item["options"] = _operation(f"{operation_id}_options_{index}", uri, params, None, deadline)
            paths[path] = item
    document: dict = {
        "swagger": "2.0",
        "info": {"title": title, "version": "1.0.0"},
        "schemes": ["https"],
        "produces": ["application/json"],
        "paths": dict(sorted(paths.items())),
    }
    if edge is not None:
        document["securityDefinitions"] = {
            USER_TOKEN: {
                "authorizationUrl": "",
                "flow": "implicit",
                "type": "oauth2",
                "scopes": {},
                "x-google-issuer": edge.issuer,
                "x-google-jwks_uri": jwks_uri,
                "x-google-audiences": edge.audience,
            },
            API_KEY: {"type": "apiKey", "name": API_KEY_HEADER, "in": "header"},
        }
        document["x-google-management"] = {
            "metrics": [
                {"name": QUOTA_METRIC, "displayName": "Grid requests", "valueType": "INT64", "metricKind": "DELTA"}
            ],
            "quota": {
                "limits": [
                    {
                        "name": f"{QUOTA_METRIC}-per-minute",
                        "metric": QUOTA_METRIC,
                        "unit": "1/min/{project}",
                        "values": {"STANDARD": edge.quota_per_minute},
                    }
                ]
            },
        }
    return json.dumps(document, sort_keys=True)


def _requirement(backend: Backend, path: str, edge: EdgeArgs | None) -> list[dict] | None:
    """The operation's security requirement: None for an open operation (no edge, or a probe)."""
    if edge is None or path in backend.probe_paths:
        return None
    return [{USER_TOKEN: [], API_KEY: []}] if backend.user_token else [{API_KEY: []}]


def _operation(
    operation_id: str, uri: str, params: list[dict], requirement: list[dict] | None, deadline: float
) -> dict:
    operation = {
        "operationId": operation_id,
        "x-google-backend": {
            "address": uri,
            "path_translation": "APPEND_PATH_TO_ADDRESS",
            "jwt_audience": uri,
            "deadline": deadline,
        },
        "parameters": params,
        "responses": {"default": {"description": "Forwarded to the service."}},
    }
    if requirement is not None:
        # Metered only where the caller is identified: the quota is per consumer project, named by the API key.
        operation["security"] = requirement
        operation["x-google-quota"] = {"metricCosts": {QUOTA_METRIC: 1}}
    return operation


def _gateway_paths(backend: Backend) -> list[str]:
    # API Gateway has no catch-all route: the default (api) backend gets its probes and its versioned API.
    if backend.path_prefix is None:
        return [*backend.probe_paths, "/v1/{rest=**}"]
    return [backend.path_prefix, f"{backend.path_prefix}/{{rest=**}}"]


@dataclass
class ApiGatewayArgs:
    project: str
    region: str
    backends: Sequence[Backend]
    """Routed services; each needs ``uri``."""
    service_account: pulumi.Input[str]
    """Identity API Gateway calls the services with (granted run.invoker on each)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    edge: EdgeArgs | None = None
    """The gateway's own JWT, API key, quota and CORS rules; None: it only forwards."""

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done).
        keys = [b.key for b in self.backends]
        if self.edge is not None and keys.count(self.edge.jwks_backend) != 1:
            raise ValueError(
                f"edge.jwks_backend '{self.edge.jwks_backend}' must name exactly one of the backends "
                f"({', '.join(keys)}): set it to the key of the backend that serves the public keys"
            )


class ApiGateway(GridComponent):
    """API Gateway: a cheap managed entry for dev; services stay private and trust only its identity.

    With ``edge``, a second, open gateway (``<name>-keys``) serves only auth's public keys: Google must fetch
    them anonymously, auth admits only the gateway's identity, and the main gateway cannot name its own
    hostname in its config (the hostname exists only once the gateway does)."""

    _module = "gateway"

    hostname: pulumi.Output[str]
    jwks_uri: pulumi.Output[str] | None
    managed_service: pulumi.Output[str]
    """The API's service name: API keys are restricted to it, and it must be enabled where they are made."""

    def __init__(self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        edge = args.edge
        self.jwks_uri = None
        jwks_uri: pulumi.Input[str] = ""
        if edge is not None:
            [auth] = [b for b in args.backends if b.key == edge.jwks_backend]
            keys = Backend(auth.key, auth.kind, auth.service_name, auth.path_prefix, auth.uri,
                           public_paths=(edge.jwks_path,))  # fmt: skip
            keys_host = self._gateway(f"{name}-keys", args, [keys], None, "keys")[1]
            self.jwks_uri = pulumi.Output.concat("https://", keys_host, edge.jwks_path)
            jwks_uri = self.jwks_uri
        api, self.hostname = self._gateway(name, args, args.backends, edge, "", jwks_uri)
        self.managed_service = api.managed_service
        if edge is not None:
            # API keys work against the API only where its managed service is enabled
            # (https://cloud.google.com/api-gateway/docs/authenticate-api-keys).
            gcp.projects.Service(
                self.child_name("service"),
                project=args.project,
                service=api.managed_service,
                disable_on_destroy=False,
                opts=self.child_opts(),
            )
        self.register_outputs({"hostname": self.hostname, "jwks_uri": self.jwks_uri})

    def _gateway(
        self,
        gateway_id: str,
        args: ApiGatewayArgs,
        backends: Sequence[Backend],
        edge: EdgeArgs | None,
        role: str,
        jwks_uri: pulumi.Input[str] = "",
    ) -> tuple[gcp.apigateway.Api, pulumi.Output[str]]:
        """One API, its config and its gateway; ``role`` prefixes the child names ("" for the main one)."""
        ag = gcp.apigateway
        child = (lambda suffix: self.child_name(f"{role}-{suffix}")) if role else self.child_name
        api = ag.Api(child("api"), api_id=gateway_id, project=args.project, opts=self.child_opts())
        keys = [b.key for b in backends]

        def document(values: list) -> str:
            return openapi_spec(gateway_id, backends, dict(zip(keys, values[:-1], strict=True)), edge, values[-1])

        spec = pulumi.Output.all(*[b.uri for b in backends], jwks_uri).apply(document)
        config = ag.ApiConfig(
            child("config"),
            api=api.api_id,
            project=args.project,
            api_config_id_prefix=f"{gateway_id}-",
            openapi_documents=[
                ag.ApiConfigOpenapiDocumentArgs(
                    document=ag.ApiConfigOpenapiDocumentDocumentArgs(
                        path="openapi.json",
                        contents=spec.apply(lambda text: base64.b64encode(text.encode()).decode()),
                    )
                )
            ],
            gateway_config=ag.ApiConfigGatewayConfigArgs(
                backend_config=ag.ApiConfigGatewayConfigBackendConfigArgs(google_service_account=args.service_account)
            ),
            # A new config must exist before the gateway switches to it.
            opts=self.child_opts(replace_on_changes=["openapiDocuments"], delete_before_replace=False),
        )
        gateway = ag.Gateway(
            child("gateway"),
            gateway_id=gateway_id,
            api_config=config.id,
            region=args.region,
            project=args.project,
            labels=dict(args.labels),
            opts=self.child_opts(),
        )
        return api, gateway.default_hostname
