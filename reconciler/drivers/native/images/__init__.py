"""The native image store: OCI layouts and archives, verified blob copies,
safe layer unpacking, declarative builds."""
