"""What an AWS error is, read the same way by the sandbox, verify and the automation.

(The deployed app keeps its own copy in `app/passport_app/aws.py`: its bundle ships alone.)
"""

from __future__ import annotations


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (`NoSuchBucket`, …); "" for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", "") or "")


def error_message(exc: BaseException) -> str:
    """The AWS error message of a ClientError, or the exception's own text."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = response.get("Error", {}).get("Message")
        if message:
            return str(message)
    return str(exc)
