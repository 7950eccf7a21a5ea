"""Fake-cloud outputs for compute and gateway resources: Cloud Run, Functions, images, buckets, LB, API Gateway,
Apigee, TLS keys. Same rules as grid/fake_cloud.py: Google's shapes, derived from the logical name."""

from __future__ import annotations

from pulumi.runtime import rpc

from grid.fake_cloud import FakeCloud, State, known_types, register_outputs


@register_outputs("gcp:cloudrunv2/service:Service")
def _run_service(cloud: FakeCloud, logical: str, state: State) -> State:
    location = cloud.location_of(state)
    name = state["name"]
    return {
        "__id": f"projects/{cloud.project}/locations/{location}/services/{name}",
        "uri": f"https://{name}-{cloud.digest(logical, 10)}-uc.a.run.app",
        "urls": [f"https://{name}-{cloud.project_number}.{location}.run.app"],
        "latestReadyRevision": f"{name}-00001-{cloud.digest(logical, 3)}",
        "latestCreatedRevision": f"{name}-00001-{cloud.digest(logical, 3)}",
        "uid": cloud.digest(logical, 32),
    }


@register_outputs("gcp:cloudrunv2/job:Job")
def _run_job(cloud: FakeCloud, logical: str, state: State) -> State:
    return {"__id": f"projects/{cloud.project}/locations/{cloud.location_of(state)}/jobs/{state['name']}"}


# Like every IAM member, only an etag is computed.
register_outputs("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")(known_types()["gcp:projects/iAMMember:IAMMember"])


@register_outputs("gcp:cloudfunctionsv2/function:Function")
def _function(cloud: FakeCloud, logical: str, state: State) -> State:
    location = cloud.location_of(state)
    name = state["name"]
    return {
        "__id": f"projects/{cloud.project}/locations/{location}/functions/{name}",
        "url": f"https://{location}-{cloud.project}.cloudfunctions.net/{name}",
        "state": "ACTIVE",
        "environment": "GEN_2",
    }


@register_outputs("gcp:storage/bucket:Bucket")
def _bucket(cloud: FakeCloud, logical: str, state: State) -> State:
    return {
        "__id": state["name"],
        "url": f"gs://{state['name']}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{state['name']}",
    }


@register_outputs("gcp:storage/bucketObject:BucketObject")
def _object(cloud: FakeCloud, logical: str, state: State) -> State:
    return {
        "__id": f"{state.get('bucket')}-{state.get('name')}",
        "md5hash": cloud.digest(logical, 22) + "==",
        "generation": int(cloud.digest(logical, 8), 16),
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{state.get('bucket')}/o/{state.get('name')}",
    }


@register_outputs("docker-build:index:Image")
def _image(cloud: FakeCloud, logical: str, state: State) -> State:
    tag = str((state.get("tags") or [f"offline/{logical}:latest"])[0])
    digest = "sha256:" + cloud.digest(f"{logical}:{tag}", 64)
    return {"__id": digest, "digest": digest, "ref": f"{tag.rsplit(':', 1)[0]}@{digest}"}


def _global(kind: str):
    def outputs(cloud: FakeCloud, logical: str, state: State) -> State:
        path = f"projects/{cloud.project}/global/{kind}/{state['name']}"
        return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}

    return outputs


for _type, _kind in {
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": "sslCertificates",
    "gcp:compute/sSLPolicy:SSLPolicy": "sslPolicies",
    "gcp:compute/backendService:BackendService": "backendServices",
    "gcp:compute/uRLMap:URLMap": "urlMaps",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "targetHttpsProxies",
    "gcp:compute/targetHttpProxy:TargetHttpProxy": "targetHttpProxies",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": "forwardingRules",
    "gcp:compute/securityPolicy:SecurityPolicy": "securityPolicies",
}.items():
    register_outputs(_type)(_global(_kind))


@register_outputs("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup")
def _neg(cloud: FakeCloud, logical: str, state: State) -> State:
    path = (
        f"projects/{cloud.project}/regions/{state.get('region') or cloud.region}/networkEndpointGroups/{state['name']}"
    )
    return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}


@register_outputs("gcp:apigateway/api:Api")
def _api(cloud: FakeCloud, logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/locations/global/apis/{state['apiId']}",
        "managedService": f"{state['apiId']}-{cloud.digest(logical, 14)}.apigateway.{cloud.project}.cloud.goog",
    }


@register_outputs("gcp:apigateway/apiConfig:ApiConfig")
def _api_config(cloud: FakeCloud, logical: str, state: State) -> State:
    config_id = f"{state.get('apiConfigIdPrefix', '')}{cloud.digest(logical, 12)}"
    return {
        "__id": f"projects/{cloud.project}/locations/global/apis/{state.get('api')}/configs/{config_id}",
        "apiConfigId": config_id,
    }


@register_outputs("gcp:apigateway/gateway:Gateway")
def _gateway(cloud: FakeCloud, logical: str, state: State) -> State:
    region = state.get("region") or cloud.region
    return {
        "__id": f"projects/{cloud.project}/locations/{region}/gateways/{state['gatewayId']}",
        "defaultHostname": f"{state['gatewayId']}-{cloud.digest(logical, 8)}.uc.gateway.dev",
    }


@register_outputs("gcp:apigee/organization:Organization")
def _apigee_org(cloud: FakeCloud, logical: str, state: State) -> State:
    return {
        "__id": f"organizations/{state.get('projectId', cloud.project)}",
        "name": state.get("projectId", cloud.project),
    }


@register_outputs("gcp:apigee/instance:Instance")
def _apigee_instance(cloud: FakeCloud, logical: str, state: State) -> State:
    name = state.get("name") or f"{logical}-{cloud.digest(logical, 7)}"
    return {
        "__id": f"{state.get('orgId')}/instances/{name}",
        "name": name,
        "host": cloud.private_ip(logical, "10.20.0.0/16"),
    }


@register_outputs("gcp:apigee/envGroup:EnvGroup")
def _apigee_group(cloud: FakeCloud, logical: str, state: State) -> State:
    return {"__id": f"{state.get('orgId')}/envgroups/{state.get('name')}"}


@register_outputs("gcp:apigee/environment:Environment")
def _apigee_env(cloud: FakeCloud, logical: str, state: State) -> State:
    return {"__id": f"{state.get('orgId')}/environments/{state.get('name')}"}


@register_outputs("tls:index/privateKey:PrivateKey")
def _private_key(cloud: FakeCloud, logical: str, state: State) -> State:
    body = cloud.digest(logical, 64)
    return {
        "__id": cloud.digest(logical, 40),
        "privateKeyPem": rpc.wrap_rpc_secret(f"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n"),
        "privateKeyPemPkcs8": rpc.wrap_rpc_secret(f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
        "publicKeyPem": f"-----BEGIN PUBLIC KEY-----\n{body[:32]}\n-----END PUBLIC KEY-----\n",
    }


@register_outputs("gcp:workflows/workflow:Workflow")
def _workflow(cloud: FakeCloud, logical: str, state: State) -> State:
    name = state.get("name") or f"{logical}-{cloud.digest(logical, 7)}"
    region = state.get("region") or cloud.region
    return {"__id": f"projects/{cloud.project}/locations/{region}/workflows/{name}", "name": name, "state": "ACTIVE"}
