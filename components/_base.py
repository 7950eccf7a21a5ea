"""What every Grid component shares: the type-token convention and child options."""

from __future__ import annotations

from typing import Any

import pulumi


def _as_list(depends_on: Any) -> list[Any]:
    if depends_on is None:
        return []
    return list(depends_on) if isinstance(depends_on, (list, tuple)) else [depends_on]


class GridComponent(pulumi.ComponentResource):
    """A ComponentResource typed ``grid:<module>:<Name>`` whose children are named ``<name>-<suffix>``."""

    _module: str = ""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"grid:{self._module}:{type(self).__name__}", name, None, opts)
        self._name = name
        # A component's depends_on orders the component only: Pulumi does not pass it to the children, which
        # would then wait for the project's APIs (the program's depends_on) only implicitly, so destroys and
        # targeted updates could run before or without them. Every child states it (parents, hence URNs, stay).
        self._depends_on = _as_list(opts.depends_on if opts is not None else None)

    def child_name(self, suffix: str) -> str:
        return f"{self._name}-{suffix}"

    def child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child: always parented to this component, and depending on what the component does."""
        depends_on = [*self._depends_on, *_as_list(kwargs.pop("depends_on", None))]
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on or None, **kwargs)


def pem_bundle(certs: Any) -> str:
    """One PEM of every server CA an instance reports (``serverCaCerts``): a client trusts them all."""
    return "".join(cert.cert for cert in certs or [])
