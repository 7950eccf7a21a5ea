"""The grid-bootstrap Pulumi project: what a team creates once, before the first `pulumi up` of Grid itself."""
