"""SES: the sender identity and the configuration set every message is sent through.

Two kinds of identity. An email-address identity (`senderEmail` alone) fits a single sender but
stays unverified until someone clicks the link AWS mails to it. A domain identity
(`senderDomain`) uses Easy DKIM: it verifies itself once three CNAME records are in the
domain's DNS, which this component creates when `route53ZoneId` names the domain's hosted zone,
and otherwise exports (`ses_dns_records`) for whoever runs the DNS. The configuration set
requires TLS to receiving servers and publishes reputation metrics, so bounce/complaint rates
are visible before SES pauses the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

#: Easy DKIM always issues three tokens (three CNAME records).
DKIM_TOKENS = 3
DKIM_TTL_SECONDS = 1800


@dataclass
class MailerArgs:
    sender_email: str
    configuration_set_name: str
    sender_domain: str | None = None
    route53_zone_id: str | None = None


def dkim_records(domain: str, tokens: list[str]) -> list[dict[str, str]]:
    """The CNAME records Easy DKIM needs (the SES console shows the same three)."""
    return [
        {
            "name": f"{token}._domainkey.{domain}",
            "type": "CNAME",
            "value": f"{token}.dkim.amazonses.com",
        }
        for token in tokens
    ]


class Mailer(pulumi.ComponentResource):
    identity_arn: pulumi.Output[str]
    configuration_set: aws.ses.ConfigurationSet
    dns_records: pulumi.Output[list[dict[str, str]]]
    """DKIM records still to be added by hand ([] when there are none or Route 53 has them)."""

    def __init__(
        self, name: str, args: MailerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:mailer:Mailer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.sender_email = args.sender_email
        self.dkim_records: list[aws.route53.Record] = []
        if args.sender_domain:
            self._domain_identity(name, args, child)
        else:
            identity = aws.ses.EmailIdentity(f"{name}-sender", email=args.sender_email, opts=child)
            self.identity = identity
            self.identity_arn = identity.arn
            self.dns_records = pulumi.Output.from_input([])
        self.configuration_set = aws.ses.ConfigurationSet(
            f"{name}-mail",
            name=args.configuration_set_name,
            delivery_options=aws.ses.ConfigurationSetDeliveryOptionsArgs(tls_policy="Require"),
            reputation_metrics_enabled=True,
            sending_enabled=True,
            opts=child,
        )
        self.register_outputs(
            {
                "sender_email": self.sender_email,
                "identity_arn": self.identity_arn,
                "configuration_set": self.configuration_set.name,
                "configuration_set_arn": self.configuration_set.arn,
                "dns_records": self.dns_records,
            }
        )

    def _domain_identity(self, name: str, args: MailerArgs, child: pulumi.ResourceOptions) -> None:
        domain = str(args.sender_domain)
        identity = aws.sesv2.EmailIdentity(
            f"{name}-domain",
            email_identity=domain,
            dkim_signing_attributes=aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
                next_signing_key_length="RSA_2048_BIT"
            ),
            opts=child,
        )
        self.identity = identity
        self.identity_arn = identity.arn
        tokens: pulumi.Output[Any] = identity.dkim_signing_attributes.apply(
            lambda attrs: list((attrs.tokens if attrs else None) or [])
        )
        if args.route53_zone_id:
            for index in range(DKIM_TOKENS):
                token = tokens.apply(lambda t, i=index: t[i] if len(t) > i else f"pending-{i}")
                self.dkim_records.append(
                    aws.route53.Record(
                        f"{name}-dkim-{index}",
                        zone_id=args.route53_zone_id,
                        name=token.apply(lambda t: f"{t}._domainkey.{domain}"),
                        type="CNAME",
                        ttl=DKIM_TTL_SECONDS,
                        records=[token.apply(lambda t: f"{t}.dkim.amazonses.com")],
                        opts=child,
                    )
                )
            self.dns_records = pulumi.Output.from_input([])
        else:
            self.dns_records = tokens.apply(lambda t: dkim_records(domain, t))
