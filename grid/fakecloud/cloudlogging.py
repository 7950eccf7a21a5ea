"""Cloud Logging: log-based metrics."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _metric(_cloud: Cloud, _logical: str, state: State) -> State:
    return {"__id": str(state["name"])}


OUTPUTS: dict[str, Outputs] = {"gcp:logging/metric:Metric": _metric}
AUTONAMED: frozenset[str] = frozenset()
