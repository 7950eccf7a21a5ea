"""A budget's brake: the topic Cloud Billing publishes to, and the function that stops the stack's services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from components._base import GridComponent
from components.compute import CloudFunction, CloudFunctionArgs, FunctionBuilds, FunctionSize
from components.compute.functions import check_function_source


@dataclass
class CostCapArgs:
    project: str
    region: str
    stack_label: str
    """The stack's name prefix: every service it may stop is named ``<prefix>-...``."""
    services: Sequence[str]
    """Cloud Run services (and gen2 functions, which run as services of the same name) it stops, by name."""
    source_dir: Path
    """app/functions/cost_cap."""
    bucket: pulumi.Input[str]
    """Function source bucket."""
    service_account: pulumi.Input[str]
    member: pulumi.Input[str]
    builds: FunctionBuilds
    """The stack's function build account and image repository."""
    trigger_agents: Sequence[pulumi.Resource] = ()
    """The Eventarc and Pub/Sub service agents (and their roles) the function's trigger is created by."""
    shared_files: Mapping[str, Path] = field(default_factory=dict)
    """Repository files packed into the source (see CloudFunctionArgs.shared_files)."""

    def __post_init__(self) -> None:
        # The function's args would refuse it only once the topic and the grants were registered.
        check_function_source(self.source_dir)


class CostCap(GridComponent):
    _module = "monitoring"

    topic_id: pulumi.Output[str]

    def __init__(self, name: str, args: CostCapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        topic = gcp.pubsub.Topic(self.child_name("topic"), project=args.project, opts=self.child_opts())
        # Reading and updating a service (run.services.get/update) is authorised on the service, so a condition on
        # its name holds; listing is authorised on the location, whose name never matches, so the function
        # addresses services by name (SERVICES) and never lists.
        # https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name
        # https://cloud.google.com/run/docs/reference/iam/permissions
        gcp.projects.IAMMember(
            self.child_name("may-stop-services"),
            project=args.project,
            role="roles/run.developer",
            member=args.member,
            condition=gcp.projects.IAMMemberConditionArgs(
                title="only-this-stack",
                expression=(
                    f'resource.name.startsWith("projects/{args.project}/locations/{args.region}/services/'
                    f'{args.stack_label}-")'
                ),
            ),
            opts=self.child_opts(),
        )
        CloudFunction(
            self.child_name("function"),
            CloudFunctionArgs(
                function_name=name,
                source_dir=args.source_dir,
                shared_files=args.shared_files,
                entry_point="cost_cap",
                bucket=args.bucket,
                region=args.region,
                project=args.project,
                config=FunctionSize.model_validate({"memory": "128Mi", "maxInstances": 1, "timeoutSeconds": 120}),
                service_account=args.service_account,
                builds=args.builds,
                ingress="ALLOW_INTERNAL_ONLY",
                env={
                    "GOOGLE_CLOUD_PROJECT": args.project,
                    "REGION": args.region,
                    "SERVICES": ",".join(args.services),
                },
                pubsub_topic=topic.id,
                trigger_service_account=args.service_account,
                invokers={"eventarc": args.member},
                labels={"grid-service": "cost-cap"},
                depends_on=list(args.trigger_agents),
            ),
            opts=self.child_opts(),
        )
        self.topic_id = topic.id
        self.register_outputs({"topic_id": self.topic_id})
