"""`grid preflight --stack NAME`: what must be true before the first `pulumi up` that the program cannot create.

Every item is derived from the stack's offline plan (the resources and properties it would create), so it follows
the program as it changes: a GPU quota only where a Cloud Run service asks for a GPU, Domain Restricted Sharing only
where something grants ``allUsers``, and so on. Offline it prints the checklist (why, which planned resource needs
it, the command that checks it, the fix). With ``gcloud`` on PATH and an active account it runs each check
(read-only) and exits 1 if any fails; ``pending`` means "after the first deploy" (DNS, the certificate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grid import certificate
from grid.gcloud import GcloudError, available, gcloud_json
from grid.stackfile import StackFile
from policies.gcp import BUDGET

PASS, FAIL, PENDING = "pass", "fail", "pending"


@dataclass(frozen=True)
class Verdict:
    status: str
    detail: str


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    why: str
    needed_by: tuple[str, ...]
    command: str
    """The gcloud command a person runs to check it (the probe runs the same)."""
    fix: str
    docs: str
    probe: Callable[[], Verdict] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Context:
    stack: str
    project: str
    region: str
    resources: list[dict[str, Any]]
    stack_file: StackFile

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == resource_type]

    @property
    def deployers(self) -> list[str]:
        return list(self.stack_file.values.get("grid:deployers") or [])


def _names(resources: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(r["name"] for r in resources)


def _members(inputs: dict[str, Any]) -> list[str]:
    member = inputs.get("member")
    return [member] if isinstance(member, str) else [m for m in inputs.get("members") or [] if isinstance(m, str)]


def _roles_of(policy: dict[str, Any], member: str) -> set[str]:
    return {b["role"] for b in (policy or {}).get("bindings", []) if member in b.get("members", [])}


def _lacking(policy: dict[str, Any], members: Iterable[str], roles: set[str]) -> list[str]:
    """The members an IAM policy grants none of ``roles``."""
    return [member for member in members if not _roles_of(policy, member) & roles]


# --- APIs and billing -------------------------------------------------------------------------------------------

# The program enables its APIs through the Service Usage API, which (with Resource Manager, for the project lookups)
# must already be on: https://cloud.google.com/service-usage/docs/enable-disable#before-you-begin
BOOTSTRAP_APIS = ("cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com")
SERVICE = "gcp:projects/service:Service"


def _apis(ctx: Context) -> Check | None:
    services = ctx.of_type(SERVICE)
    if not services:
        return None

    def probe() -> Verdict:
        enabled = _enabled_apis(ctx.project)
        missing = [api for api in BOOTSTRAP_APIS if api not in enabled]
        return Verdict(FAIL, f"not enabled: {', '.join(missing)}") if missing else Verdict(PASS, "both enabled")

    return Check(
        "apis",
        "Service Usage and Resource Manager APIs enabled",
        "Pulumi enables every other API through these two; it cannot enable them itself",
        _names(services),
        f"gcloud services list --enabled --project={ctx.project}",
        f"gcloud services enable {' '.join(BOOTSTRAP_APIS)} --project={ctx.project}",
        "https://cloud.google.com/service-usage/docs/enable-disable",
        probe,
    )


def _enabled_apis(project: str) -> set[str]:
    return {s["config"]["name"] for s in gcloud_json("services", "list", "--enabled", f"--project={project}") or []}


# Creating a budget needs billing.budgets.create on the billing account: Billing Account Costs Manager or Admin.
# https://cloud.google.com/billing/docs/how-to/budgets#budget-permissions
BUDGET_ROLES = {"roles/billing.costsManager", "roles/billing.admin"}


def _billing(ctx: Context) -> Check | None:
    budgets = ctx.of_type(BUDGET)
    accounts = sorted({b["inputs"]["billingAccount"] for b in budgets})
    account = accounts[0] if accounts else "BILLING_ACCOUNT_ID"

    def probe() -> Verdict:
        info = gcloud_json("billing", "projects", "describe", ctx.project)
        if not info.get("billingEnabled"):
            return Verdict(FAIL, f"{ctx.project} has no billing account: APIs and resources cannot be created")
        linked = str(info.get("billingAccountName", "")).removeprefix("billingAccounts/")
        if accounts and linked not in accounts:
            return Verdict(FAIL, f"{ctx.project} bills to {linked}, the budget watches {', '.join(accounts)}")
        return Verdict(PASS, f"billing enabled ({linked})")

    return Check(
        "billing-link",
        "the project is linked to the billing account",
        "no API can be enabled and nothing billable created in a project without billing"
        + (f"; the budget watches {', '.join(accounts)}" if accounts else ""),
        _names(budgets) or _names(ctx.of_type(SERVICE)),
        f"gcloud billing projects describe {ctx.project}",
        f"gcloud billing projects link {ctx.project} --billing-account={account}",
        "https://cloud.google.com/billing/docs/how-to/modify-project",
        probe,
    )


def _budget_permission(ctx: Context) -> list[Check]:
    checks = []
    for account in sorted({b["inputs"]["billingAccount"] for b in ctx.of_type(BUDGET)}):
        budgets = _names(b for b in ctx.of_type(BUDGET) if b["inputs"]["billingAccount"] == account)

        def probe(account: str = account) -> Verdict:
            policy = gcloud_json("billing", "accounts", "get-iam-policy", account)
            members = ctx.deployers or [_active_member()]
            lacking = _lacking(policy, members, BUDGET_ROLES)
            if lacking:
                return Verdict(FAIL, f"{', '.join(lacking)} cannot create budgets on {account}")
            return Verdict(PASS, f"{', '.join(members)} may manage budgets on {account}")

        who = ", ".join(ctx.deployers) or "the identity that runs `pulumi up`"
        checks.append(
            Check(
                f"budget-permission-{account}",
                f"the deployer may create budgets on billing account {account}",
                f"a budget lives on the billing account, not in the project: {who} needs "
                "roles/billing.costsManager there (the bootstrap grants it when grid-bootstrap:billingAccount is set)",
                budgets,
                f"gcloud billing accounts get-iam-policy {account}",
                f"gcloud billing accounts add-iam-policy-binding {account} --member=MEMBER "
                "--role=roles/billing.costsManager",
                "https://cloud.google.com/billing/docs/how-to/budgets#budget-permissions",
                probe,
            )
        )
    return checks


BUDGET_API = "billingbudgets.googleapis.com"
PROVIDER = "pulumi:providers:gcp"


def _budget_api(ctx: Context) -> Check | None:
    """The Budget API is called through a quota project, not the budget's own: the caller's unless a provider
    sets ``billing_project`` with ``user_project_override``. The API must be on in that project.
    https://cloud.google.com/billing/docs/how-to/budget-api-setup
    https://registry.terraform.io/providers/hashicorp/google/latest/docs/guides/provider_reference#user_project_override
    """
    budgets = ctx.of_type(BUDGET)
    if not budgets:
        return None
    enabled_by_plan = {s["inputs"]["project"] for s in ctx.of_type(SERVICE) if s["inputs"].get("service") == BUDGET_API}
    overrides = {
        str(p["inputs"]["billingProject"])
        for p in ctx.of_type(PROVIDER)
        if str(p["inputs"].get("userProjectOverride")).lower() == "true" and p["inputs"].get("billingProject")
    }
    if overrides and overrides <= enabled_by_plan:
        return None  # the program bills the calls to a project where it enables the API itself
    callers = sorted({m.split("@")[1].removesuffix(".iam.gserviceaccount.com") for m in ctx.deployers if "@" in m})
    quota_projects = sorted(overrides - enabled_by_plan) or callers

    def probe() -> Verdict:
        if not quota_projects:
            return Verdict(FAIL, "no grid:deployers: cannot tell which quota project the Budget API is called through")
        missing = [project for project in quota_projects if BUDGET_API not in _enabled_apis(project)]
        if missing:
            return Verdict(FAIL, f"{BUDGET_API} is not enabled in {', '.join(missing)}")
        return Verdict(PASS, f"{BUDGET_API} is enabled in {', '.join(quota_projects)}")

    where = ", ".join(quota_projects) or "the deployer's own project"
    return Check(
        "budget-api",
        f"the Billing Budget API is enabled where the budget call is billed ({where})",
        "the provider sends the budget request through the caller's quota project (the deployer's project) "
        "unless it sets billing_project with user_project_override; the API must be enabled there",
        _names(budgets),
        "; ".join(f"gcloud services list --enabled --project={project}" for project in quota_projects)
        or "gcloud services list --enabled --project=DEPLOYER_PROJECT",
        f"gcloud services enable {BUDGET_API} --project={quota_projects[0] if quota_projects else 'DEPLOYER_PROJECT'}",
        "https://cloud.google.com/billing/docs/how-to/budget-api-setup",
        probe,
    )


def _active_member() -> str:
    accounts = gcloud_json("auth", "list", "--filter=status:ACTIVE")
    email = accounts[0]["account"] if accounts else "unknown"
    return f"serviceAccount:{email}" if email.endswith(".gserviceaccount.com") else f"user:{email}"


# --- quotas -----------------------------------------------------------------------------------------------------

CLOUD_RUN = "gcp:cloudrunv2/service:Service"
# Cloud Run GPU quota IDs per accelerator, with and without zonal redundancy; new projects have none of either.
# https://cloud.google.com/run/docs/configuring/services/gpu#request-quota
GPU_QUOTAS = {
    "nvidia-l4": ("NvidiaL4GpuAllocPerProjectRegion", "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion"),
}
GPU_LIMIT = "nvidia.com/gpu"


def _gpu_needs(service: dict[str, Any]) -> tuple[str, int] | None:
    """(accelerator, GPUs at max scale) for a Cloud Run service that asks for GPUs, from its template."""
    template = service["inputs"].get("template") or {}
    accelerator = (template.get("nodeSelector") or {}).get("accelerator")
    per_instance = max(
        (int((c.get("resources") or {}).get("limits", {}).get(GPU_LIMIT, 0)) for c in template.get("containers", [])),
        default=0,
    )
    if not accelerator and not per_instance:
        return None
    instances = int((template.get("scaling") or {}).get("maxInstanceCount") or 1)
    return accelerator or "nvidia-l4", max(per_instance, 1) * instances


def _gpu_quota(ctx: Context) -> list[Check]:
    wanted: dict[tuple[str, str], tuple[int, list[str]]] = {}  # (quota ID, region) -> (GPUs, services)
    for service in ctx.of_type(CLOUD_RUN):
        needs = _gpu_needs(service)
        if needs is None:
            continue
        accelerator, gpus = needs
        redundant, no_redundancy = GPU_QUOTAS.get(accelerator, (f"{accelerator} GPU", f"{accelerator} GPU"))
        quota = no_redundancy if (service["inputs"]["template"] or {}).get("gpuZonalRedundancyDisabled") else redundant
        where = (quota, str(service["inputs"].get("location") or ctx.region))
        total, names = wanted.get(where, (0, []))
        wanted[where] = (total + gpus, [*names, service["name"]])
    checks = []
    for (quota, region), (gpus, names) in sorted(wanted.items()):

        def probe(quota: str = quota, region: str = region, gpus: int = gpus) -> Verdict:
            info = gcloud_json(
                "beta", "quotas", "info", "describe", quota, "--service=run.googleapis.com", f"--project={ctx.project}"
            )
            granted = _quota_value(info, region)
            if granted < gpus:
                return Verdict(FAIL, f"{quota} in {region} is {granted}, the plan scales to {gpus}")
            return Verdict(PASS, f"{quota} in {region} is {granted} (plan needs {gpus})")

        checks.append(
            Check(
                f"quota-{quota}-{region}",
                f"Cloud Run quota {quota} >= {gpus} in {region}",
                f"the plan runs up to {gpus} GPU(s) in {region}; a new project's GPU quota is 0 and the first "
                "revision is refused without it (a quota request can take days)",
                tuple(names),
                f"gcloud beta quotas info describe {quota} --service=run.googleapis.com --project={ctx.project}",
                "request it: https://cloud.google.com/run/docs/configuring/services/gpu#request-quota "
                f"(region {region}, value {gpus})",
                "https://cloud.google.com/run/docs/configuring/services/gpu#request-quota",
                probe,
            )
        )
    return checks


def _quota_value(info: dict[str, Any], region: str) -> int:
    """The granted value for ``region`` in a QuotaInfo (a region-less dimension is the default for all regions).
    https://cloud.google.com/docs/quotas/reference/rest/v1/projects.locations.services.quotaInfos#QuotaInfo"""
    default = 0
    for dimension in info.get("dimensionsInfos", []):
        value = int(dimension.get("details", {}).get("value", 0))
        where = (dimension.get("dimensions") or {}).get("region")
        if where == region:
            return value
        if where is None:
            default = value
    return default


# --- organisation policies --------------------------------------------------------------------------------------

PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


def _org_policy(ctx: Context, constraint: str) -> dict[str, Any]:
    return gcloud_json("org-policies", "describe", constraint, f"--project={ctx.project}", "--effective") or {}


def _list_policy_allows_public(policy: dict[str, Any]) -> bool:
    """An effective list policy lets allUsers through only if it has no rules or a rule allows all values.
    https://cloud.google.com/resource-manager/docs/organization-policy/restricting-domains"""
    rules = (policy.get("spec") or {}).get("rules") or []
    return not rules or any(rule.get("allowAll") for rule in rules)


def _boolean_enforced(policy: dict[str, Any]) -> bool:
    return any(rule.get("enforce") for rule in (policy.get("spec") or {}).get("rules") or [])


def _org_policy_check(
    ctx: Context,
    constraint: str,
    refuses: Callable[[dict[str, Any]], bool],
    refusal: str,
    resources: Sequence[dict[str, Any]],
    **text: str,
) -> Check:
    """A check that the effective organisation policy ``constraint`` on the project allows what ``resources`` do."""

    def probe() -> Verdict:
        if refuses(_org_policy(ctx, constraint)):
            return Verdict(FAIL, f"{constraint} is enforced: {refusal}")
        return Verdict(PASS, f"{constraint} is not enforced on {ctx.project}")

    return Check(
        needed_by=_names(resources),
        command=f"gcloud org-policies describe {constraint} --project={ctx.project} --effective",
        probe=probe,
        **text,
    )


def _domain_restricted_sharing(ctx: Context) -> Check | None:
    public = [r for r in ctx.resources if PUBLIC_MEMBERS & set(_members(r.get("inputs") or {}))]
    if not public:
        return None
    constraint = "iam.allowedPolicyMemberDomains"
    return _org_policy_check(
        ctx,
        constraint,
        lambda policy: not _list_policy_allows_public(policy),
        "IAM will refuse the allUsers/allAuthenticatedUsers grants",
        public,
        key="domain-restricted-sharing",
        title=f"Domain Restricted Sharing ({constraint}) allows allUsers",
        why="the plan grants roles to allUsers/allAuthenticatedUsers; under Domain Restricted Sharing (the default "
        "for organisations created since May 2024) IAM refuses such grants",
        fix="disable the Cloud Run invoker IAM check on those services instead of granting allUsers "
        "(https://cloud.google.com/run/docs/authenticating/public#invoker_check), or ask the organisation "
        "policy administrator for an exception on this project",
        docs="https://cloud.google.com/resource-manager/docs/organization-policy/restricting-domains",
    )


def _invoker_check(ctx: Context) -> Check | None:
    disabled = [s for s in ctx.of_type(CLOUD_RUN) if s["inputs"].get("invokerIamDisabled")]
    if not disabled:
        return None
    constraint = "run.managed.requireInvokerIam"
    return _org_policy_check(
        ctx,
        constraint,
        _boolean_enforced,
        "Cloud Run refuses services without the invoker check",
        disabled,
        key="invoker-iam-check",
        title=f"the organisation policy {constraint} lets services disable the invoker IAM check",
        why="services the plan exposes through the load balancer only disable Cloud Run's invoker IAM check",
        fix="ask the organisation policy administrator to exempt this project from the constraint",
        docs="https://cloud.google.com/run/docs/authenticating/public#invoker_check",
    )


FUNCTION = "gcp:cloudfunctionsv2/function:Function"
# Without buildConfig.serviceAccount a gen2 function builds as the Compute Engine default service account, which
# gets no roles where iam.automaticIamGrantsForDefaultServiceAccounts is enforced (new organisations, May 2024):
# https://cloud.google.com/functions/docs/securing/build-custom-sa
# https://cloud.google.com/resource-manager/docs/organization-policy/restricting-service-accounts#disable_service_account_default_grants
BUILD_ROLES = {"roles/cloudbuild.builds.builder", "roles/editor"}


def _default_build_account(ctx: Context) -> Check | None:
    default_built = [
        f for f in ctx.of_type(FUNCTION) if not (f["inputs"].get("buildConfig") or {}).get("serviceAccount")
    ]
    if not default_built:
        return None
    constraint = "iam.automaticIamGrantsForDefaultServiceAccounts"

    def probe() -> Verdict:
        number = gcloud_json("projects", "describe", ctx.project)["projectNumber"]
        member = f"serviceAccount:{number}-compute@developer.gserviceaccount.com"
        roles = _roles_of(gcloud_json("projects", "get-iam-policy", ctx.project), member)
        if roles & BUILD_ROLES:
            return Verdict(PASS, f"{member} has {', '.join(sorted(roles & BUILD_ROLES))}")
        enforced = _boolean_enforced(_org_policy(ctx, constraint))
        because = f" ({constraint} is enforced)" if enforced else ""
        return Verdict(FAIL, f"{member} has no build role{because}: the function builds will fail")

    return Check(
        "default-build-account",
        "function builds have an account that may build",
        f"these functions build as the Compute Engine default service account, which has no roles where {constraint} "
        "is enforced (the default for new organisations)",
        _names(default_built),
        f"gcloud projects get-iam-policy {ctx.project}; gcloud org-policies describe {constraint} "
        f"--project={ctx.project} --effective",
        "give the functions a build service account (buildConfig.serviceAccount), or grant "
        "roles/cloudbuild.builds.builder to PROJECT_NUMBER-compute@developer.gserviceaccount.com",
        "https://cloud.google.com/functions/docs/securing/build-custom-sa",
        probe,
    )


# --- identities from elsewhere ----------------------------------------------------------------------------------

ACCOUNT = "gcp:serviceaccount/account:Account"
_SERVICE_ACCOUNT = re.compile(r"^serviceAccount:([^@]+)@([a-z][-a-z0-9]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")


def _external_accounts(ctx: Context) -> Check | None:
    """Service accounts the plan grants roles to but does not create, in another project (the bootstrap's)."""
    created = {r["inputs"].get("email") or r["inputs"].get("accountId") for r in ctx.of_type(ACCOUNT)}
    grants: dict[str, list[str]] = {}  # email -> the planned resources that grant it something
    for resource in ctx.resources:
        for member in _members(resource.get("inputs") or {}):
            match = _SERVICE_ACCOUNT.match(member)
            # Google's service agents (gcp-sa-*) appear when their API is enabled; the program does not name them.
            external = match and match.group(2) != ctx.project and not match.group(2).startswith("gcp-sa-")
            if external and match.group(1) not in created:
                grants.setdefault(member.removeprefix("serviceAccount:"), []).append(resource["name"])
    if not grants:
        return None

    def probe() -> Verdict:
        missing = []
        for email in sorted(grants):
            try:
                project = email.split("@")[1].removesuffix(".iam.gserviceaccount.com")
                gcloud_json("iam", "service-accounts", "describe", email, f"--project={project}")
            except GcloudError:
                missing.append(email)
        if missing:
            return Verdict(FAIL, f"not found (or not visible): {', '.join(missing)}")
        return Verdict(PASS, f"{', '.join(sorted(grants))} exist")

    return Check(
        "external-accounts",
        "the deployer accounts the plan grants roles to exist",
        "IAM refuses a grant to a service account that does not exist; these come from the bootstrap",
        tuple(name for names in grants.values() for name in names),
        "; ".join(f"gcloud iam service-accounts describe {email}" for email in sorted(grants)),
        "run the bootstrap (bootstrap/, docs/getting-started.md) first, or fix grid:deployers",
        "https://cloud.google.com/iam/docs/service-accounts-create",
        probe,
    )


# --- the secrets provider CI uses -------------------------------------------------------------------------------

SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
# Pulumi's gcpkms provider encrypts and decrypts each stack's data key with the key: the deployer needs both.
# https://cloud.google.com/kms/docs/reference/permissions-and-roles
KEY_ROLES = {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}


def _give_the_stack_its_key(stack: str, provider: str) -> str:
    """How a stack gets `provider` as its secrets provider. An existing stack changes it (`stack init` would fail
    on it, or give it a new data key that leaves its secure values undecryptable); only a new one is created with
    it. https://www.pulumi.com/docs/iac/cli/commands/pulumi_stack_change-secrets-provider/"""
    return (
        f"an existing stack: `pulumi stack change-secrets-provider -s {stack} {provider}`; a stack not created yet: "
        f"`pulumi stack init {stack} --secrets-provider {provider}`"
    )


def _secrets_provider(ctx: Context) -> Check:
    file = ctx.stack_file
    provider = file.secrets_provider
    key = provider.removeprefix("gcpkms://")

    def probe() -> Verdict:
        if not provider.startswith("gcpkms://"):
            return Verdict(FAIL, f"{file.source} uses the {provider} provider, which CI cannot use without a secret")
        if file.secret_keys and not file.has_encrypted_key:
            return Verdict(
                FAIL,
                f"{file.source} has secure values but no encryptedkey: they were not encrypted with this stack's "
                f"key; {_give_the_stack_its_key(ctx.stack, provider)}, then set each with `pulumi config set --secret`",
            )
        policy = gcloud_json("kms", "keys", "get-iam-policy", key)
        lacking = _lacking(policy, ctx.deployers, KEY_ROLES)
        if lacking:
            return Verdict(FAIL, f"{', '.join(lacking)} may not encrypt/decrypt with {key}")
        who = ", ".join(ctx.deployers) or "no grid:deployers (whoever runs pulumi needs the key)"
        return Verdict(PASS, f"{key} exists; may use it: {who}")

    return Check(
        "secrets-provider",
        "CI can decrypt the stack's secrets",
        f"{file.source} names {provider}; CI has no passphrase, only Google credentials, so the key must be "
        "Cloud KMS and every deployer must be allowed to use it",
        tuple(sorted(file.secret_keys)) + _names(ctx.of_type(SECRET_VERSION)),
        f"gcloud kms keys get-iam-policy {key}",
        f"{_give_the_stack_its_key(ctx.stack, '<bootstrap output secretsProvider>')}; the bootstrap grants each "
        "deployer roles/cloudkms.cryptoKeyEncrypterDecrypter on it",
        "https://cloud.google.com/kms/docs/iam",
        probe,
    )


# --- DNS and the managed certificate ----------------------------------------------------------------------------

CERTIFICATE = "gcp:compute/managedSslCertificate:ManagedSslCertificate"
ADDRESS = "gcp:compute/globalAddress:GlobalAddress"


def _dns(ctx: Context, resolver: certificate.Resolver | None) -> list[Check]:
    checks = []
    for cert in ctx.of_type(CERTIFICATE):
        hosts = list(cert["inputs"]["managed"]["domains"])
        addresses = [
            a for a in ctx.of_type(ADDRESS) if a["parent"] == cert["parent"] and a["inputs"].get("purpose") is None
        ]
        logical = addresses[0]["name"] if addresses else None

        def probe(hosts: list[str] = hosts, logical: str | None = logical) -> Verdict:
            found = [
                a["address"]
                for a in gcloud_json("compute", "addresses", "list", "--global", f"--project={ctx.project}") or []
                if logical and re.fullmatch(rf"{re.escape(logical)}-[0-9a-f]{{7}}", a["name"])
            ]
            if not found:
                return Verdict(PENDING, "the address does not exist yet: after the first `pulumi up`, point DNS at it")
            problems = certificate.dns_problems(hosts, found[0], resolver or certificate.resolve)
            if problems:
                return Verdict(FAIL, "; ".join(problems))
            state = certificate.certificate_state(ctx.project, hosts)
            if state.status != "ACTIVE":
                return Verdict(
                    PENDING, f"DNS is right; {'; '.join(certificate.certificate_problems(state, ctx.project, hosts))}"
                )
            return Verdict(PASS, f"{', '.join(hosts)} resolve to {found[0]} and the certificate is ACTIVE")

        checks.append(
            Check(
                f"dns-{cert['name']}",
                f"DNS for {', '.join(hosts)} points at the load balancer",
                "Google provisions the managed certificate only once every host on it resolves to the load "
                f"balancer's address, then takes up to {certificate.PROVISIONING_MINUTES} minutes; HTTPS fails until then",
                (cert["name"], *([logical] if logical else [])),
                f"gcloud compute addresses list --global --project={ctx.project}; dig +short A {hosts[0]}",
                "after the first deploy: an A record for each host to the stack output gatewayAddress",
                certificate.DOC,
                probe,
            )
        )
    return checks


# --- assembly ---------------------------------------------------------------------------------------------------


def derive_checks(
    stack: str, resources: list[dict[str, Any]], stack_file: StackFile, resolver: certificate.Resolver | None = None
) -> list[Check]:
    values = stack_file.values
    ctx = Context(
        stack, str(values["gcp:project"]), str(values.get("gcp:region", "us-central1")), resources, stack_file
    )
    checks: list[Check | None] = [
        _apis(ctx),
        _billing(ctx),
        *_budget_permission(ctx),
        _budget_api(ctx),
        *_gpu_quota(ctx),
        _domain_restricted_sharing(ctx),
        _invoker_check(ctx),
        _default_build_account(ctx),
        _external_accounts(ctx),
        _secrets_provider(ctx),
        *_dns(ctx, resolver),
    ]
    return [check for check in checks if check is not None]


def _needed_by(names: Sequence[str]) -> str:
    shown = ", ".join(names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def render(checks: Sequence[Check], verdicts: Sequence[Verdict] | None, header: str) -> str:
    lines = [header, ""]
    for index, check in enumerate(checks, 1):
        verdict = verdicts[index - 1] if verdicts else None
        mark = f"[{verdict.status.upper()}] " if verdict else ""
        lines.append(f"{index:>2}. {mark}{check.title}")
        if verdict:
            lines.append(f"    result: {verdict.detail}")
        lines += [
            f"    why: {check.why}",
            f"    needed by: {_needed_by(check.needed_by)}",
            f"    check: {check.command}",
            f"    fix: {check.fix}",
            f"    docs: {check.docs}",
        ]
    return "\n".join(lines)


def run_checks(checks: Sequence[Check]) -> list[Verdict]:
    verdicts = []
    for check in checks:
        try:
            verdicts.append(check.probe())
        except GcloudError as exc:
            verdicts.append(Verdict(FAIL, f"could not check: {exc}"))
        except (KeyError, TypeError, ValueError) as exc:
            verdicts.append(Verdict(FAIL, f"could not check: unexpected gcloud answer ({exc!r})"))
    return verdicts


def online() -> bool:
    """gcloud is installed and has an active account."""
    if not available():
        return False
    try:
        return bool(gcloud_json("auth", "list", "--filter=status:ACTIVE"))
    except GcloudError:
        return False


def run(stack: str, offline: bool = False, resolver: certificate.Resolver | None = None) -> int:
    from grid.plan import make_plan, project_root, project_spec
    from grid.stackfile import read_stack_file

    plan = make_plan(stack)
    stack_file = read_stack_file(project_root(project_spec()), stack)
    checks = derive_checks(stack, plan.to_json()["resources"], stack_file, resolver)
    project = stack_file.values["gcp:project"]
    if offline or not online():
        why = "--offline" if offline else "gcloud is not installed or has no active account"
        print(
            render(checks, None, f"Preflight of {stack} ({project}): {len(checks)} prerequisites ({why}: not checked)")
        )
        return 0
    verdicts = run_checks(checks)
    failed = sum(v.status == FAIL for v in verdicts)
    pending = sum(v.status == PENDING for v in verdicts)
    print(render(checks, verdicts, f"Preflight of {stack} ({project}): {len(checks)} prerequisites checked"))
    print(f"\n{len(checks) - failed - pending} passed, {failed} failed, {pending} pending (after the first deploy)")
    return 1 if failed else 0
