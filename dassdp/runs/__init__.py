"""Studies, task-switch protocols, data sets, the runner and the results store, and the library
behind ``dassdp doctor``, ``dassdp network-demo`` and ``dassdp paper`` (the commands live in
`dassdp.cli`)."""
