"""The control loop of `reconcile run`: the watched stack set, wake-ups (file changes,
deaths, health), restart backoff, user intents (stop/start) and the status file. Imports
`model`, `spec`, `planner`, `engine`, `support` and the driver contract."""
