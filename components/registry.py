"""Artifact Registry Docker repository with cleanup policies, so old images don't bill forever."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator

from components._base import GridComponent
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel

# --- config: the typed, validated input of this component (grid:registry in a stack file) ---


class RegistryConfig(ConfigModel):
    repository_id: str | None = Field(None, description="Artifact Registry repository ID; default: the name prefix.")
    keep_recent: int = Field(10, ge=1, le=1000, description="Most recent versions kept per image.")
    delete_untagged_after_days: int = Field(14, ge=1, le=3650)
    immutable_tags: bool = True

    @field_validator("repository_id")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        if value is not None and (problem := gcp_limits.name_problem("artifact_repository", value)):
            raise ValueError(problem)
        return value


@dataclass
class RegistryArgs:
    config: RegistryConfig
    """Repository settings from ``grid:registry``."""
    repository_id: str
    """Repository ID (the stack's name prefix unless configured)."""
    region: str
    """Repository location; the same region as the services keeps pulls free."""
    project: str
    description: str = "Grid service images, deployed by digest."


class Registry(GridComponent):
    _module = "registry"

    url: pulumi.Output[str]
    """``<region>-docker.pkg.dev/<project>/<repository>``: prefix of every image reference."""
    repository_id: pulumi.Output[str]
    id: pulumi.Output[str]
    """``projects/<p>/locations/<region>/repositories/<id>``."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        ar = gcp.artifactregistry
        repository = ar.Repository(
            self.child_name("repo"),
            repository_id=args.repository_id,
            location=args.region,
            project=args.project,
            format="DOCKER",
            description=args.description,
            docker_config=ar.RepositoryDockerConfigArgs(immutable_tags=cfg.immutable_tags),
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                ar.RepositoryCleanupPolicyArgs(
                    id="delete-untagged",
                    action="DELETE",
                    condition=ar.RepositoryCleanupPolicyConditionArgs(
                        tag_state="UNTAGGED", older_than=f"{cfg.delete_untagged_after_days * 86400}s"
                    ),
                ),
                ar.RepositoryCleanupPolicyArgs(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=ar.RepositoryCleanupPolicyMostRecentVersionsArgs(keep_count=cfg.keep_recent),
                ),
            ],
            opts=self.child_opts(),
        )
        self.repository_id = repository.repository_id
        self.id = repository.id
        self.url = pulumi.Output.concat(args.region, "-docker.pkg.dev/", args.project, "/", repository.repository_id)
        self.register_outputs({"url": self.url})
