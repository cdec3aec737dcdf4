"""`python -m reconciler.cli`."""

from reconciler.cli import main

raise SystemExit(main())
