"""Reusable Pulumi ComponentResources, one Google Cloud concern per module (DESIGN §4)."""
