"""What every Grid component shares: the type-token convention and child options."""

from __future__ import annotations

from typing import Any

import pulumi


class GridComponent(pulumi.ComponentResource):
    """A ComponentResource typed ``grid:<module>:<Name>`` whose children are named ``<name>-<suffix>``."""

    _module: str = ""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"grid:{self._module}:{type(self).__name__}", name, None, opts)
        self._name = name

    def child_name(self, suffix: str) -> str:
        return f"{self._name}-{suffix}"

    def child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child: always parented to this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)
