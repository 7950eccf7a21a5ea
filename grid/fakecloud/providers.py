"""The non-Google providers the program uses: random (passwords), tls (keys) and docker-build (images)."""

from __future__ import annotations

from pulumi.runtime import rpc

from grid.fakecloud.core import Cloud, Outputs, State


def _random_password(cloud: Cloud, logical: str, state: State) -> State:
    length = int(state.get("length", 32))
    fake = (cloud.digest(logical, 64) * 4)[:length]
    return {"__id": "none", "result": rpc.wrap_rpc_secret(fake), "bcryptHash": rpc.wrap_rpc_secret("$2a$10$offline")}


def _private_key(cloud: Cloud, logical: str, _state: State) -> State:
    body = cloud.digest(logical, 64)
    return {
        "__id": cloud.digest(logical, 40),
        "privateKeyPem": rpc.wrap_rpc_secret(f"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n"),
        "privateKeyPemPkcs8": rpc.wrap_rpc_secret(f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
        "publicKeyPem": f"-----BEGIN PUBLIC KEY-----\n{body[:32]}\n-----END PUBLIC KEY-----\n",
    }


def _image(cloud: Cloud, logical: str, state: State) -> State:
    tag = str((state.get("tags") or [f"offline/{logical}:latest"])[0])
    digest = "sha256:" + cloud.digest(f"{logical}:{tag}", 64)
    return {"__id": digest, "digest": digest, "ref": f"{tag.rsplit(':', 1)[0]}@{digest}"}


OUTPUTS: dict[str, Outputs] = {
    "random:index/randomPassword:RandomPassword": _random_password,
    "tls:index/privateKey:PrivateKey": _private_key,
    "docker-build:index:Image": _image,
}
AUTONAMED: frozenset[str] = frozenset()
