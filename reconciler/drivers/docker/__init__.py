"""The docker driver: reconcile's containers run by a Docker Engine, through the Engine
API: its own small JSON client for every convergence call (engine_api.py), the `docker`
SDK for Python for what streams. It maps specs onto the API (mapping.py), loads images
made in the shared image store (staging.py, images.py), turns the engine's /events into
death events (events.py), and converts engine errors at its edge (client.py).

Imports only `model`, `support`, `drivers.base` and the shared `drivers.images` and
`drivers.probes`; never the native driver. docs/docker.md describes the choices.
"""
