"""`python -m verify ...` (see verify/cli.py)."""

from verify.cli import main

raise SystemExit(main())
