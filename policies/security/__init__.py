"""Security rules: mandatory by default, every one traceable to CIS, Checkov or Google documentation."""

from pulumi_policy import Policy

from policies.security import iam, messaging, network, redis, run, scanner_parity, sql, storage

POLICIES: list[Policy] = [
    *sql.POLICIES,
    *redis.POLICIES,
    *run.POLICIES,
    *storage.POLICIES,
    *iam.POLICIES,
    *network.POLICIES,
    *messaging.POLICIES,
    *scanner_parity.POLICIES,
]
