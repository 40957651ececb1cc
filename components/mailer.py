"""SES: the sender identity and the configuration set every message is sent through.

An email-address identity fits a single sender (no DNS records needed; AWS mails a
verification link to the address). The configuration set requires TLS to receiving servers
and publishes reputation metrics, so bounce/complaint rates are visible before SES pauses the
account.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class MailerArgs:
    sender_email: str
    configuration_set_name: str


class Mailer(pulumi.ComponentResource):
    identity: aws.ses.EmailIdentity
    configuration_set: aws.ses.ConfigurationSet

    def __init__(
        self, name: str, args: MailerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:mailer:Mailer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.identity = aws.ses.EmailIdentity(f"{name}-sender", email=args.sender_email, opts=child)
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
                "sender_email": self.identity.email,
                "identity_arn": self.identity.arn,
                "configuration_set": self.configuration_set.name,
                "configuration_set_arn": self.configuration_set.arn,
            }
        )
