"""Reusable Pulumi ComponentResources, one Google Cloud concern per module (docs/design.md §4)."""
