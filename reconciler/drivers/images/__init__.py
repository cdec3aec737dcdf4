"""The image store every driver shares: OCI layouts and archives, verified blob copies,
safe layer unpacking, declarative builds. The native driver runs containers from it; the
docker driver stages oci/archive/build images in it before loading them into the engine.
Imports only `model`, `support` and `drivers.base`."""
