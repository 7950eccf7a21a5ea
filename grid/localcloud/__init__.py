"""`grid local --stack NAME`: the stack's offline plan, run as a local cloud (see docs/local-cloud.md)."""
