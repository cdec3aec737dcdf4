"""The control loop's HTTP API (`reconcile run` serves it): a small router, the server
(unix socket, loopback or TLS TCP, bearer tokens, CSRF checks), the v1 JSON and streaming
endpoints, and the client the CLI uses while a loop holds the state dir. Handlers only talk
to `LoopView`, a read-only, thread-safe facade over the running loop. Imports `loop`,
`engine`, `planner`, `spec`, `support`, `model` and the driver contract; the loop never
imports it (docs/api.md)."""
