"""`python -m automation ...` (see automation/cli.py)."""

from automation.cli import main

raise SystemExit(main())
