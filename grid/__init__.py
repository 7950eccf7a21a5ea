"""The `grid` command: offline engine, plan and cost report, local runner, up/preview wrappers."""
