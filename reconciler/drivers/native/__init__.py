"""The native driver: containers run by an OCI runtime straight on the kernel."""
