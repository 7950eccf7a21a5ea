"""Cloud Storage: buckets, objects (function sources) and bucket IAM."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _bucket(_cloud: Cloud, _logical: str, state: State) -> State:
    return {
        "__id": state["name"],
        "url": f"gs://{state['name']}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{state['name']}",
    }


def _object(cloud: Cloud, logical: str, state: State) -> State:
    return {
        "__id": f"{state.get('bucket')}-{state.get('name')}",
        "md5hash": cloud.digest(logical, 22) + "==",
        "generation": int(cloud.digest(logical, 8), 16),
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{state.get('bucket')}/o/{state.get('name')}",
    }


OUTPUTS: dict[str, Outputs] = {
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:storage/bucketObject:BucketObject": _object,
    "gcp:storage/bucketIAMMember:BucketIAMMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset({"gcp:storage/bucket:Bucket"})
