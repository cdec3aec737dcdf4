"""Drivers turn plan actions into changes on the host and report observed state."""
