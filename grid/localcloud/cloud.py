"""The fake cloud the local cloud plans with: the plan's generated values made for real.

The offline plan's fake cloud derives passwords and keys from resource names (stable plans, never real
secrets). To run the plan, those values must be real and fresh: a random password as `random.RandomPassword`
makes one, a key as `tls.PrivateKey` makes one, a Memorystore AUTH string, and the server CA a Memorystore or Cloud SQL instance
reports (the local CA that signs the local Redis's and Postgres's certificates).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import pulumi
from pulumi.runtime import rpc

from grid.fakecloud import FakeCloud, unwrap
from grid.localcloud.pki import new_private_key

_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"  # random.RandomPassword's default special characters


def random_password(inputs: dict[str, Any]) -> str:
    """A password with the RandomPassword inputs' length and character classes."""
    alphabet = ""
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("numeric", True):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial") or _SPECIAL
    return "".join(secrets.choice(alphabet) for _ in range(int(inputs.get("length", 32))))


class LocalCloud(FakeCloud):
    def __init__(self, project: str, region: str, *, ca_pem: str) -> None:
        super().__init__(project, region)
        self.ca_pem = ca_pem

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        resource_id, state = super().new_resource(args)
        inputs = unwrap(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = rpc.wrap_rpc_secret(random_password(inputs))
        elif args.typ == "tls:index/privateKey:PrivateKey":
            key = new_private_key(
                inputs.get("algorithm", "RSA"), inputs.get("ecdsaCurve", "P224"), int(inputs.get("rsaBits", 2048))
            )
            state["privateKeyPem"] = rpc.wrap_rpc_secret(key["privateKeyPem"])
            state["privateKeyPemPkcs8"] = rpc.wrap_rpc_secret(key["privateKeyPemPkcs8"])
            state["publicKeyPem"] = key["publicKeyPem"]
        elif args.typ == "gcp:redis/instance:Instance":
            if inputs.get("authEnabled"):
                state["authString"] = rpc.wrap_rpc_secret(secrets.token_urlsafe(24))
            if state.get("serverCaCerts"):
                state["serverCaCerts"] = [{"cert": self.ca_pem}]
        elif args.typ == "gcp:sql/databaseInstance:DatabaseInstance":
            state["serverCaCerts"] = [{"cert": self.ca_pem}]
        return resource_id, state
