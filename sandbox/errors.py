"""The one exception type the sandbox raises for problems a user can fix.

The CLI prints its message on one line and exits 2; anything else is a bug and keeps its
traceback. Keeping the distinction in one type means every module can fail "clearly" without
knowing how the CLI reports.
"""

from __future__ import annotations


class SandboxError(RuntimeError):
    """A clear, user-facing sandbox failure (bad stack, port in use, app unhealthy, ...)."""
