"""Small host helpers every stage may use: process liveness, logging setup, the
event journal, the state lock and atomic file writes. Imports `model` only."""
