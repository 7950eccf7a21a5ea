"""Cloud Storage buckets: uniform access and no public exposure."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, Policy

from policies.gcp import BUCKET, BUCKET_IAM
from policies.props import get, is_known
from policies.rule import Meta, Subject, checkov, cis, resource_policy
from policies.security.public_iam import not_public_policy


def _uniform_access(r: Subject) -> Iterator[str]:
    if get(r.props, "uniformBucketLevelAccess", False) is False:
        yield "uniformBucketLevelAccess is not true: object ACLs can grant access IAM does not show"


def _public_access_prevention(r: Subject) -> Iterator[str]:
    setting = get(r.props, "publicAccessPrevention", "inherited")
    if is_known(setting) and setting != "enforced":
        yield f"publicAccessPrevention is {setting}: a later IAM or ACL change could make objects public"


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="bucket-uniform-access",
            description="Cloud Storage buckets must use uniform bucket-level access.",
            remediation="Set uniformBucketLevelAccess=true.",
            sources=(cis("5.2"), checkov("CKV_GCP_29")),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (BUCKET,),
        _uniform_access,
    ),
    resource_policy(
        Meta(
            name="bucket-public-access-prevention",
            description="Cloud Storage buckets must enforce public access prevention.",
            remediation="Set publicAccessPrevention='enforced'; serve public assets through the load "
            "balancer's backend bucket with CDN instead.",
            sources=(checkov("CKV_GCP_114"), cis("5.1")),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        (BUCKET,),
        _public_access_prevention,
    ),
    not_public_policy(
        "bucket-iam-not-public", "Access to a Cloud Storage bucket", BUCKET_IAM, (cis("5.1"), checkov("CKV_GCP_28"))
    ),
]
