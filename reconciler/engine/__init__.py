"""Carries a plan out through a driver: execute (dependency order, bounded
parallelism, no decisions of its own), converge (observe, plan, execute, until settled),
wait (depends_on conditions during an apply), rollout steps and health probes. Imports
`model`, `planner`, `support` and the driver contract (`drivers.base`), never a driver."""
