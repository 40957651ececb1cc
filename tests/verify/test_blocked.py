"""A pending SES identity blocks verification on a named manual step; it is not a failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from common.polling import Deadline
from verify.checks import email, ses
from verify.context import CheckContext
from verify.model import Report, Status
from verify.reports.junit import render_junit
from verify.runner import execute

SENDER = "noreply@passportphoto.example.com"


class StubSes:
    """The SES answers of an account whose identities have the given statuses."""

    endpoint_url = None

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        other = {
            "describe_configuration_set": {},
            "get_account_sending_enabled": {"Enabled": True},
            "get_send_quota": {"Max24HourSend": 200.0, "SentLast24Hours": 0.0},
        }
        if operation in other:
            return other[operation]
        assert (service, operation) == ("ses", "get_identity_verification_attributes")
        return {
            "VerificationAttributes": {
                i: {"VerificationStatus": s} for i, s in self.statuses.items()
            }
        }


def context(statuses: dict[str, str], tmp_path: Path) -> CheckContext:
    outputs = {
        "sender_email": SENDER,
        "ses_configuration_set": "cs",
        "region": "us-east-1",
        "email_table": "t",
        "api_url": "http://127.0.0.1:9",
        "ses_dns_records": [{"name": "a._domainkey.x", "type": "CNAME", "value": "a.dkim"}] * 3,
    }
    ctx = CheckContext("ses", outputs, Deadline(10), tmp_path)
    ctx._aws = StubSes(statuses)  # type: ignore[assignment]
    return ctx


@pytest.mark.parametrize("check", [ses.CHECK, email.CHECK], ids=["ses", "email"])
def test_a_pending_domain_identity_is_blocked_on_its_dns_records(check, tmp_path: Path) -> None:
    result = execute(check, context({"passportphoto.example.com": "Pending"}, tmp_path), 10)
    assert result.status is Status.BLOCKED, result.message
    assert "pending verification" in result.message and "ses_dns_records" in result.message
    report = Report([result], 0.1)
    assert report.blocked and not report.passed and report.exit_code == 6
    assert b"blocked on a manual step" in render_junit(report)


def test_a_pending_email_identity_names_the_link(tmp_path: Path) -> None:
    result = execute(ses.CHECK, context({SENDER: "Pending"}, tmp_path), 10)
    assert result.status is Status.BLOCKED and f"click the link AWS mailed to {SENDER}" in (
        result.message
    )


def test_a_failed_verification_is_a_failure_not_a_block(tmp_path: Path) -> None:
    result = execute(ses.CHECK, context({"passportphoto.example.com": "Failed"}, tmp_path), 10)
    assert result.status is Status.FAILED and "VerificationStatus Success" in result.message
