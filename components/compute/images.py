"""Service images built from app/<service>, pushed to Artifact Registry and deployed by digest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

from components._base import GridComponent
from components.compute.source_digest import tree_hash

_COPY = re.compile(r"^\s*(?:COPY|ADD)\s+(?!--from)(?:--\S+\s+)*(.+?)\s+\S+\s*$", re.IGNORECASE | re.MULTILINE)


def copy_sources(dockerfile: Path) -> list[str]:
    """The sources of a Dockerfile's COPY and ADD instructions that come from the build context (not ``--from``)."""
    return [name for match in _COPY.finditer(dockerfile.read_text(encoding="utf-8")) for name in match.group(1).split()]


def copied_paths(dockerfile: Path, context: Path) -> list[Path]:
    """What a Dockerfile copies from its build context: with the source directory, what the tag must hash (an
    immutable registry refuses a changed image under an unchanged tag)."""
    return [context / name for name in copy_sources(dockerfile) if "*" not in name and (context / name).exists()]


@dataclass
class ServiceImageArgs:
    service: str
    """Service directory under app/ (auth, api, ai)."""
    repo_root: Path
    """Build context: the repository root, so images can copy app/common."""
    registry_url: pulumi.Input[str]
    """``<region>-docker.pkg.dev/<project>/<repository>``."""
    registry_host: str
    """``<region>-docker.pkg.dev``, for docker login."""
    target: str | None = None
    """Dockerfile stage to build (e.g. the CUDA variant of the ai image)."""
    source_dir: Path | None = None
    """A workload of your own: the directory with its Dockerfile (built from ``repo_root``, the project directory,
    so it may copy shared code). None: app/<service> of the bundled apps."""


class ServiceImage(GridComponent):
    """Builds with BuildKit via the docker-build provider; ``ref`` is ``<repo>/<service>@sha256:<digest>``."""

    _module = "compute"

    ref: pulumi.Output[str]
    tag: str

    def __init__(self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        app = args.repo_root / "app"
        if args.source_dir is None:
            context, dockerfile = args.repo_root, app / args.service / "Dockerfile"
            sources = [app / args.service, app / "common", args.repo_root / "pyproject.toml"]
        else:
            context, dockerfile = args.repo_root, args.source_dir / "Dockerfile"
            sources = [args.source_dir, *copied_paths(dockerfile, args.repo_root)]
        self.tag = tree_hash([p for p in sources if p.exists()], context)[:16] + (
            f"-{args.target}" if args.target else ""
        )
        token = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).access_token
        image = docker_build.Image(
            self.child_name("image"),
            tags=[pulumi.Output.concat(args.registry_url, f"/{args.service}:{self.tag}")],
            context=docker_build.BuildContextArgs(location=str(context)),
            dockerfile=docker_build.DockerfileArgs(location=str(dockerfile)),
            target=args.target,
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            # Previews must not build: a plan is cheap and offline; `up` builds and pushes.
            build_on_preview=False,
            registries=[
                docker_build.RegistryArgs(
                    address=args.registry_host, username="oauth2accesstoken", password=pulumi.Output.secret(token)
                )
            ],
            opts=self.child_opts(),
        )
        self.ref = image.ref
        self.register_outputs({"ref": self.ref})
