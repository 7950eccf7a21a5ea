"""The public entry: global external HTTPS load balancer with Cloud Armor and CDN, API Gateway, or Apigee.

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


class GatewayConfig(ConfigModel):
    """The public entry: a global HTTPS load balancer (+ Armor, CDN), API Gateway, Apigee, or none."""

    type: Literal["loadBalancer", "apiGateway", "apigee", "none"] = "apiGateway"
    domains: list[str] = Field(default_factory=list, description="Hostnames for the managed certificate.")
    cdn: bool = False
    armor: ArmorConfig = ArmorConfig()
    ssl_profile: Literal["MODERN", "RESTRICTED"] = "MODERN"
    apigee_environment_type: Literal["BASE", "INTERMEDIATE", "COMPREHENSIVE"] = "BASE"

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if not re.match(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", domain):
                raise ValueError(f"'{domain}' is not a valid DNS name")
        return value

    @property
    def serves_domains(self) -> bool:
        """The entry point answers on ``domains`` (API Gateway has only its own gateway hostname)."""
        return self.type in ("loadBalancer", "apigee")

    @model_validator(mode="after")
    def _needs(self) -> GatewayConfig:
        if self.serves_domains and not self.domains:
            raise ValueError(f"type {self.type} needs at least one entry in domains for its managed certificate")
        if self.cdn and self.type != "loadBalancer":
            raise ValueError("cdn needs type loadBalancer")
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

    def paths(self) -> list[str]:
        """URL-map path patterns of this (non-default) backend."""
        assert self.path_prefix is not None
        return list(self.public_paths) if self.public_paths else route_paths(self.path_prefix)


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


class HttpsLoadBalancer(GridComponent):
    """Global external Application Load Balancer (EXTERNAL_MANAGED) in front of serverless NEGs."""

    _module = "gateway"

    ip_address: pulumi.Output[str]
    backend_services: dict[str, pulumi.Output[str]]
    candidate_host: str | None
    """``<tag>.<domain>``: the hostname that reaches candidate revisions (point its DNS at ``ip_address`` too)."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        defaults = [b for b in args.backends if b.path_prefix is None]
        if len(defaults) != 1:
            raise ValueError("exactly one backend must be the default route (path_prefix=None)")
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
            default_service=services[defaults[0].key].id,
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
    default = next(services[b.key] for b in backends if b.path_prefix is None)
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


def openapi_spec(title: str, backends: Sequence[Backend], uris: Mapping[str, str]) -> str:
    """Swagger 2.0 for API Gateway from the routing table: each prefix forwards every method to its service."""
    methods = ("get", "post", "put", "patch", "delete")
    paths: dict[str, dict] = {}
    for backend in backends:
        uri = uris[backend.key]
        operation_id = backend.key.replace("-", "_")
        gateway_paths = list(backend.public_paths) if backend.public_paths else _gateway_paths(backend.path_prefix)
        for index, path in enumerate(gateway_paths):
            params = [{"name": "rest", "in": "path", "required": True, "type": "string"}] if "{rest" in path else []
            paths[path] = {
                method: {
                    "operationId": f"{operation_id}_{method}_{index}",
                    "x-google-backend": {
                        "address": uri,
                        "path_translation": "APPEND_PATH_TO_ADDRESS",
                        "jwt_audience": uri,
                        "deadline": 60.0,
                    },
                    "parameters": params,
                    "responses": {"default": {"description": "Forwarded to the service."}},
                }
                for method in methods
            }
    return json.dumps(
        {
            "swagger": "2.0",
            "info": {"title": title, "version": "1.0.0"},
            "schemes": ["https"],
            "produces": ["application/json"],
            "paths": dict(sorted(paths.items())),
        },
        sort_keys=True,
    )


def _gateway_paths(prefix: str | None) -> list[str]:
    # API Gateway has no catch-all route: the default (api) backend gets its known top-level prefixes.
    if prefix is None:
        return ["/health", "/ready", "/v1/{rest=**}"]
    return [prefix, f"{prefix}/{{rest=**}}"]


@dataclass
class ApiGatewayArgs:
    project: str
    region: str
    backends: Sequence[Backend]
    """Routed services; each needs ``uri``."""
    service_account: pulumi.Input[str]
    """Identity API Gateway calls the services with (granted run.invoker on each)."""
    labels: Mapping[str, str] = field(default_factory=dict)


class ApiGateway(GridComponent):
    """API Gateway: a cheap managed entry for dev; services stay private and trust only its identity."""

    _module = "gateway"

    hostname: pulumi.Output[str]

    def __init__(self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ag = gcp.apigateway
        api = ag.Api(self.child_name("api"), api_id=name, project=args.project, opts=self.child_opts())
        keys = [b.key for b in args.backends]
        spec = pulumi.Output.all(*[b.uri for b in args.backends]).apply(
            lambda uris: openapi_spec(name, args.backends, dict(zip(keys, uris, strict=True)))
        )
        config = ag.ApiConfig(
            self.child_name("config"),
            api=api.api_id,
            project=args.project,
            api_config_id_prefix=f"{name}-",
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
            self.child_name("gateway"),
            gateway_id=name,
            api_config=config.id,
            region=args.region,
            project=args.project,
            labels=dict(args.labels),
            opts=self.child_opts(),
        )
        self.hostname = gateway.default_hostname
        self.register_outputs({"hostname": self.hostname})


# --- Apigee (prod only) -------------------------------------------------------------------------------------


@dataclass
class ApigeeArgs:
    project: str
    region: str
    network_id: pulumi.Input[str]
    """VPC Apigee's runtime peers with."""
    domains: Sequence[str]
    environment_type: str = "BASE"


class ApigeeGateway(GridComponent):
    """Apigee X pay-as-you-go: organization, runtime instance, one environment and an environment group.

    Proxies are deployed from the team's API proxy bundles with Apigee's own tooling; this component owns the
    runtime they run on.
    """

    _module = "gateway"

    environment: pulumi.Output[str]

    def __init__(self, name: str, args: ApigeeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ap = gcp.apigee
        org = ap.Organization(
            self.child_name("org"),
            project_id=args.project,
            analytics_region=args.region,
            runtime_type="CLOUD",
            billing_type="PAYG",
            authorized_network=args.network_id,
            opts=self.child_opts(),
        )
        instance = ap.Instance(self.child_name("instance"), org_id=org.id, location=args.region, opts=self.child_opts())
        environment = ap.Environment(
            self.child_name("env"), org_id=org.id, name="prod", type=args.environment_type, opts=self.child_opts()
        )
        group = ap.EnvGroup(
            self.child_name("group"), org_id=org.id, name="public", hostnames=list(args.domains), opts=self.child_opts()
        )
        ap.EnvGroupAttachment(
            self.child_name("group-attachment"),
            envgroup_id=group.id,
            environment=environment.name,
            opts=self.child_opts(),
        )
        ap.InstanceAttachment(
            self.child_name("instance-attachment"),
            instance_id=instance.id,
            environment=environment.name,
            opts=self.child_opts(),
        )
        self.environment = environment.name
        self.register_outputs({"environment": self.environment})
