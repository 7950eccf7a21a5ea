"""Jobs of the stack's own, declared in the stack file's grid:jobs (docs/workloads.md)."""
