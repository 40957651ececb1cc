"""Rules of the mail the service sends: the SES sender domain and the zone its DKIM records go
into. (The addresses themselves are the `Email` kind.)"""

from __future__ import annotations

import re

from components.config.rules_origins import is_dns_name
from components.config.schema import Context, Invalid, rule, show

SENDER_DOMAIN_ALLOWED = "a domain name such as passportphoto.example.com"
ZONE_ALLOWED = "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (needs senderDomain)"


def domain_syntax(domain: str, ctx: Context) -> str:
    if not is_dns_name(domain):
        raise Invalid(SENDER_DOMAIN_ALLOWED)
    return domain


@rule("senderDomain", "senderEmail")
def sender_in_domain(ctx: Context) -> None:
    """SES sends as addresses of a domain identity: senderEmail must be at senderDomain."""
    domain, sender = ctx.values["senderDomain"], ctx.values["senderEmail"]
    if domain and sender and not sender.lower().endswith("@" + domain.lower()):
        ctx.add(
            ("senderDomain", "senderEmail"),
            f"senderDomain={domain}, senderEmail={sender}",
            "senderEmail at the sender domain (SES sends as addresses of a domain identity)",
        )


@rule("route53ZoneId", "senderDomain")
def zone_of_sender_domain(ctx: Context) -> None:
    zone = ctx.values["route53ZoneId"]
    if zone is not None and (
        not re.fullmatch(r"Z[A-Z0-9]{1,31}", zone) or not ctx.values["senderDomain"]
    ):
        ctx.add("route53ZoneId", show(zone), ZONE_ALLOWED)


RULES = (sender_in_domain, zone_of_sender_domain)
