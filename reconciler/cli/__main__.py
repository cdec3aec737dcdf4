"""`python -m reconciler.cli`."""

from reconciler.cli.main import main

raise SystemExit(main())
