"""Studies, task-switch protocols, data sets, the runner, the results store and the CLI commands."""
