"""What every Grid component shares: the type-token convention and child options."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pulumi

from gridlib import gcp_limits


def _as_list(depends_on: Any) -> list[Any]:
    if depends_on is None:
        return []
    return list(depends_on) if isinstance(depends_on, (list, tuple)) else [depends_on]


def child_name_of(component: str, suffix: str) -> str:
    """The name the component named ``component`` gives its child ``suffix`` (``GridComponent.child_name``): what a
    stack checks up front for a child whose physical name Google limits (stacks/naming.py)."""
    return f"{component}-{suffix}"


def fitted_name_of(component: str, suffix: str, kind: str) -> str | None:
    """The physical name the component named ``component`` gives its child ``suffix`` when Pulumi's auto-name
    (``<name>-<7 hex>``) would pass Google's length limit for ``kind``; None when the auto-name fits (then Pulumi
    names it, as it always did). The name is cut to leave room for ``-<7 hex>`` of a digest of the whole name, the
    auto-name's shape, so two long names cut alike still differ."""
    name = child_name_of(component, suffix)
    _, max_len, _ = gcp_limits.NAME_RULES[kind]
    if len(name) + gcp_limits.AUTONAME_SUFFIX_LEN <= max_len:
        return None
    head = name[: max_len - gcp_limits.AUTONAME_SUFFIX_LEN].rstrip("-")
    return f"{head}-{hashlib.sha256(name.encode()).hexdigest()[:7]}"


class GridComponent(pulumi.ComponentResource):
    """A ComponentResource typed ``grid:<module>:<Name>`` whose children are named ``<name>-<suffix>``."""

    _module: str = ""

    def __init__(
        self,
        name: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        limited: Mapping[str, str] | None = None,
        fitted: Mapping[str, str] | None = None,
    ) -> None:
        """``limited`` / ``fitted``: suffix -> name kind (gridlib.gcp_limits.NAME_RULES) of every child this
        component will name with ``limited_child_name`` / ``fitted_child_name``. Their names are checked here,
        before the component registers: registering sends it to the engine, so a refusal after that (or after a
        first child) would leave a half-done deployment."""
        self._name = name
        self._limited = dict(limited or {})
        self._fitted = dict(fitted or {})
        fix = "a shorter name (in a Grid stack, a shorter grid:namePrefix)"
        for suffix, kind in self._limited.items():
            self._check_name(kind, self.child_name(suffix), autonamed=True, fix=fix)
        fix = "another name (in a Grid stack, another grid:namePrefix)"
        for suffix, kind in self._fitted.items():
            physical = fitted_name_of(name, suffix, kind)
            self._check_name(kind, physical or self.child_name(suffix), autonamed=physical is None, fix=fix)
        super().__init__(f"grid:{self._module}:{type(self).__name__}", name, None, opts)
        # A component's depends_on orders the component only: Pulumi does not pass it to the children, which
        # would then wait for the project's APIs (the program's depends_on) only implicitly, so destroys and
        # targeted updates could run before or without them. Every child states it (parents, hence URNs, stay).
        self._depends_on = _as_list(opts.depends_on if opts is not None else None)

    def child_name(self, suffix: str) -> str:
        return child_name_of(self._name, suffix)

    def limited_child_name(self, suffix: str) -> str:
        """``child_name(suffix)`` for a child Pulumi auto-names (``<name>-<7 hex>``) and Google limits: declared
        in ``limited`` at ``__init__``, which refused it if it cannot fit."""
        self._declared(self._limited, "limited", suffix)
        return self.child_name(suffix)

    def fitted_child_name(self, suffix: str) -> tuple[str, str | None]:
        """(logical name, physical name) of a child Google limits and whose name can be taken again as soon as it
        is deleted: the physical name is ``fitted_name_of``'s, None (auto-named) when that fits. A child given a
        physical name must be replaced delete-first (its new copy cannot take the name before). Declared in
        ``fitted`` at ``__init__``, which refused it if it cannot fit."""
        self._declared(self._fitted, "fitted", suffix)
        return self.child_name(suffix), fitted_name_of(self._name, suffix, self._fitted[suffix])

    def _declared(self, declared: Mapping[str, str], option: str, suffix: str) -> None:
        """A child name checked only when the child is created would be refused after the component registered:
        a bug of the component, not of its input."""
        if suffix not in declared:
            raise TypeError(
                f"{type(self).__name__}: child '{suffix}' is not declared: pass {option}={{{suffix!r}: <name kind>}} "
                "to GridComponent.__init__ so its name is checked before anything registers"
            )

    def _check_name(self, kind: str, name: str, *, autonamed: bool, fix: str) -> None:
        """Refuse, before anything is created, a child name Google would refuse as ``kind``; ``fix`` names the
        component name to give instead."""
        if problem := gcp_limits.name_problem(kind, name, autonamed=autonamed):
            raise ValueError(
                f"{type(self).__name__} '{self._name}': its {kind.replace('_', ' ')} name {problem}: give the "
                f"component {fix}"
            )

    def child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child: always parented to this component, and depending on what the component does."""
        depends_on = [*self._depends_on, *_as_list(kwargs.pop("depends_on", None))]
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on or None, **kwargs)


def pem_bundle(certs: Any) -> str:
    """One PEM of every server CA an instance reports (``serverCaCerts``): a client trusts them all."""
    return "".join(cert.cert for cert in certs or [])
