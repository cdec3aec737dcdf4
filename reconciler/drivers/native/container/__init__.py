"""Native containers: the OCI bundle and its security settings, cgroups, rootfs,
the runc wrapper, the per-container monitor, the container's records and logs."""
