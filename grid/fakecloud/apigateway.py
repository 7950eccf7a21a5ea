"""API Gateway: APIs, API configs and gateways."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _api(cloud: Cloud, logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/locations/global/apis/{state['apiId']}",
        "managedService": f"{state['apiId']}-{cloud.digest(logical, 14)}.apigateway.{cloud.project}.cloud.goog",
    }


def _api_config(cloud: Cloud, logical: str, state: State) -> State:
    config_id = f"{state.get('apiConfigIdPrefix', '')}{cloud.digest(logical, 12)}"
    return {
        "__id": f"projects/{cloud.project}/locations/global/apis/{state.get('api')}/configs/{config_id}",
        "apiConfigId": config_id,
    }


def _gateway(cloud: Cloud, logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/locations/{cloud.region_of(state)}/gateways/{state['gatewayId']}",
        "defaultHostname": f"{state['gatewayId']}-{cloud.digest(logical, 8)}.uc.gateway.dev",
    }


OUTPUTS: dict[str, Outputs] = {
    "gcp:apigateway/api:Api": _api,
    "gcp:apigateway/apiConfig:ApiConfig": _api_config,
    "gcp:apigateway/gateway:Gateway": _gateway,
}
AUTONAMED: frozenset[str] = frozenset()
