"""Route 53 records (the SES domain's DKIM CNAMEs) in a hosted zone that already exists.

The zone is the user's (stack config `route53ZoneId`), not ours: like AWS, a record in a zone
the account does not have fails with NoSuchHostedZone.
"""

from __future__ import annotations

from typing import Any

from common.contracts import ResourceType
from sandbox.realise.context import RealiseContext


def record(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    zone = str(inputs["zoneId"])
    fqdn, rtype = str(inputs["name"]), str(inputs["type"])
    ctx.client("route53").change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": fqdn,
                        "Type": rtype,
                        "TTL": int(inputs.get("ttl") or 300),
                        "ResourceRecords": [{"Value": str(v)} for v in inputs.get("records") or []],
                    },
                }
            ]
        },
    )
    return f"{zone}_{fqdn}_{rtype}", {**inputs, "fqdn": fqdn}


HANDLERS = {ResourceType.ROUTE53_RECORD: record}
