"""Protocol registry, runner, executors and CLI (not yet implemented)."""
