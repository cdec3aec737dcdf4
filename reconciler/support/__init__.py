"""Small host helpers every stage may use: process liveness, logging setup, the
event journal and the state lock. Imports `model` only."""
