"""ses: the app can send: sender identity verified, configuration set present, sending on."""

from __future__ import annotations

from common.aws_errors import error_code
from verify.context import Check, CheckContext
from verify.model import CheckBlocked, Outcome, Problems

WHERE = "components/mailer.py"


def identity_statuses(ctx: CheckContext, sender: str) -> dict[str, str | None]:
    """SES verification status of the sender address and of its domain."""
    domain = sender.rpartition("@")[2]
    attrs = ctx.aws.call(
        "ses", "get_identity_verification_attributes", Identities=[sender, domain]
    )["VerificationAttributes"]
    return {i: attrs.get(i, {}).get("VerificationStatus") for i in (sender, domain)}


def raise_if_pending(
    ctx: CheckContext, sender: str, statuses: dict[str, str | None], details: dict
) -> None:
    """A new identity waits for its owner: blocked on that manual step, not a failure."""
    domain = sender.rpartition("@")[2]
    if statuses.get(domain) == "Pending":
        records = ctx.outputs.get("ses_dns_records") or []
        step = (
            f"add the {len(records) or 3} DKIM CNAME records of the `ses_dns_records` stack "
            f"output to the DNS of {domain} (or set route53ZoneId), then wait for SES to see them"
        )
        raise CheckBlocked(f"SES domain identity {domain} is pending verification: {step}", details)
    if statuses.get(sender) == "Pending":
        raise CheckBlocked(
            f"SES identity {sender} is pending verification: click the link AWS mailed to "
            f"{sender} (or use senderDomain with DKIM)",
            details,
        )


def run(ctx: CheckContext) -> Outcome:
    problems = Problems()
    sender = ctx.outputs["sender_email"]
    config_set = ctx.outputs["ses_configuration_set"]
    domain = sender.rpartition("@")[2]
    details: dict = {}

    statuses = identity_statuses(ctx, sender)
    details["identity_status"] = statuses
    if "Success" not in statuses.values():
        raise_if_pending(ctx, sender, statuses, details)
    problems.expect(
        "Success" in statuses.values(),
        f"SES identity {sender} (or domain {domain})",
        "VerificationStatus Success",
        statuses[sender] or "not an identity",
        f"{WHERE} / `aws ses get-identity-verification-attributes --identities {sender}` — an "
        "email identity is verified by clicking the link AWS mails to it",
    )

    try:
        ctx.aws.call("ses", "describe_configuration_set", ConfigurationSetName=config_set)
        details["configuration_set"] = config_set
    except Exception as exc:
        if error_code(exc) != "ConfigurationSetDoesNotExist":
            raise
        problems.add(
            f"SES configuration set {config_set}: expected to exist, got "
            f"ConfigurationSetDoesNotExist — check {WHERE} / `aws ses list-configuration-sets`"
        )

    try:
        enabled = ctx.aws.call("ses", "get_account_sending_enabled").get("Enabled")
        details["account_sending_enabled"] = enabled
        problems.expect(
            enabled is True,
            "SES account sending",
            "enabled",
            enabled,
            "the SES console (sending paused by AWS?) / `aws ses get-account-sending-enabled`",
        )
    except Exception as exc:
        if not ctx.aws.is_not_implemented(exc):
            raise
        # moto has no GetAccountSendingEnabled; the email check proves sending end to end.
        details["account_sending_enabled"] = f"not implemented by {ctx.aws.endpoint_url}"
    quota = ctx.aws.call("ses", "get_send_quota")
    details["send_quota"] = {k: quota.get(k) for k in ("Max24HourSend", "SentLast24Hours")}
    problems.expect(
        float(quota.get("Max24HourSend", 0)) > 0,
        "SES Max24HourSend",
        "> 0",
        quota.get("Max24HourSend"),
        "the SES account's sending limits",
    )
    problems.raise_if_any(details)
    return Outcome(
        f"{sender} verified, configuration set {config_set} present, sending on", details
    )


CHECK = Check(
    name="ses",
    run=run,
    description="sender identity verified, configuration set exists, account sending enabled",
    requires=("region", "sender_email", "ses_configuration_set"),
    needs_app=False,
    timeout_s=30.0,
)
