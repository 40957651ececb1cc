"""Resource handlers by AWS service: each realises one resource type for real on moto.

`HANDLERS` maps a Pulumi type token to its handler; a type missing here is an error at `up`
(the Mocks refuse it by name), never a silent pass.
"""

from __future__ import annotations

from sandbox.realise import (
    cloudwatch,
    dynamodb,
    elasticbeanstalk,
    iam,
    route53,
    s3,
    ses,
    sns,
    wafv2,
)
from sandbox.realise.context import Handler

HANDLERS: dict[str, Handler] = {}
for _module in (s3, dynamodb, iam, ses, sns, cloudwatch, elasticbeanstalk, route53, wafv2):
    HANDLERS.update(_module.HANDLERS)
