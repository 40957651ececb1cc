"""Pipeline error types and the translation of engine failures into plain messages.

Users read these in a GitHub Actions log at 2 a.m.: each one says what went wrong and what to
do, and says whether retrying can help (only `TransientError` is retried by the pipeline).
"""

from __future__ import annotations

import re


class PipelineError(Exception):
    """A failure the pipeline reports as one line, with a remediation hint, and no traceback."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class TransientError(PipelineError):
    """Worth retrying: a lock held by another update, throttling, a network blip."""


class UsageError(PipelineError):
    """Bad input the user can fix (unknown stack, check or version; bad config): exit 2."""


class StackLockedError(TransientError):
    """Another update holds the stack; the pipeline waits for it, bounded, with progress lines."""


class ToolMissingError(PipelineError):
    """A required program (the Pulumi CLI) is not installed."""


class CredentialsError(PipelineError):
    """No usable AWS credentials in the ambient chain."""


_CREDENTIALS = re.compile(
    r"NoCredentialProviders|no valid credential sources|unable to locate credentials|"
    r"ExpiredToken|InvalidClientTokenId|failed to refresh cached credentials|"
    r"could not find any credentials",
    re.IGNORECASE,
)
#: The engine's refusal: `resource "urn:pulumi:…" cannot be deleted because it is protected`.
_PROTECTED = re.compile(r"(urn:pulumi:\S+?)\"?,? cannot be deleted\s+because it is protected")
_THROTTLING = re.compile(
    r"Throttling|ThrottlingException|Rate exceeded|TooManyRequests|RequestLimitExceeded|"
    r"SlowDown",
    re.IGNORECASE,
)
_NETWORK = re.compile(
    r"connection reset|connection refused|i/o timeout|TLS handshake timeout|"
    r"temporary failure in name resolution|EOF occurred|502 Bad Gateway|503 Service",
    re.IGNORECASE,
)


def translate_pulumi_error(exc: BaseException, stack: str) -> PipelineError:
    """Map a pulumi.automation exception (or OS error) onto one of our error types."""
    # lazy import: pulumi.automation costs 0.1 s at start-up; only a pulumi failure needs it
    from pulumi import automation as auto

    text = str(exc)
    if isinstance(exc, FileNotFoundError) or "pulumi: command not found" in text:
        return ToolMissingError(
            "the Pulumi CLI was not found on PATH",
            "install it (https://www.pulumi.com/docs/install/ or pulumi/actions in GitHub "
            "Actions), or use --engine sandbox",
        )
    if isinstance(exc, auto.ConcurrentUpdateError):
        return StackLockedError(
            f"stack {stack!r} is locked by another update",
            "wait for it to finish; if it crashed, run `pulumi cancel` for that stack",
        )
    if isinstance(exc, auto.StackNotFoundError):
        return UsageError(
            f"stack {stack!r} does not exist in this backend; create it with "
            f"`pulumi stack init {stack}` or run `up`",
            "check `pulumi whoami` / PULUMI_BACKEND_URL if the stack should exist",
        )
    protected = sorted(set(_PROTECTED.findall(text)))
    if protected:
        return PipelineError(
            f"stack {stack!r} holds protected resources that destroy will not delete: "
            + ", ".join(protected),
            "they hold customer data. To remove them on purpose: export the data you need, set "
            f"deletionProtection: false in Pulumi.{stack}.yaml and run `python -m automation up "
            f"--stack {stack}` (this lifts Pulumi's protect, retain_on_delete and AWS deletion "
            "protection, and lets buckets be emptied), then destroy again: that destroy deletes "
            "the tables and buckets with their data",
        )
    if _CREDENTIALS.search(text):
        return CredentialsError(
            "no valid AWS credentials were found",
            "configure the ambient chain (aws-actions/configure-aws-credentials with OIDC in CI, "
            "AWS_PROFILE or SSO locally)",
        )
    if _THROTTLING.search(text):
        return TransientError(f"AWS throttled the update of stack {stack!r}", "retry later")
    if _NETWORK.search(text):
        return TransientError(f"network error while updating stack {stack!r}", "retry")
    if isinstance(exc, auto.CommandError):
        return PipelineError(
            f"pulumi failed for stack {stack!r}: {_last_error_line(text)}",
            "read the full log above; run `pulumi preview` locally to reproduce",
        )
    return PipelineError(f"{type(exc).__name__}: {text}")


def _last_error_line(text: str) -> str:
    """The most informative line of a long CLI dump: the last one mentioning an error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "error" in line.lower():
            return line[:400]
    return lines[-1][:400] if lines else "unknown error"


class CanaryAborted(PipelineError):
    """The canary judge aborted a traffic split: the old version served throughout (exit 3)."""

    def __init__(self, message: str, outcome: object) -> None:
        super().__init__(message)
        self.outcome = outcome
