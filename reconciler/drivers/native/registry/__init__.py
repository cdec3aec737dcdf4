"""Pulling images from OCI distribution registries into the native image store."""
