"""IAM: roles, inline and managed policies, attachments, instance profiles.

Managed AWS policies (arn:aws:iam::aws:policy/...) exist in moto because the sandbox starts it
with MOTO_IAM_LOAD_MANAGED_POLICIES=true; attaching one that does not exist fails with
NoSuchEntity, exactly as AWS would.
"""

from __future__ import annotations

import json
from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from sandbox.realise.context import ACCOUNT_ID, RealiseContext, tag_list


def _doc(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _same_doc(a: Any, b: Any) -> bool:
    load = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731
    return load(a) == load(b)


def role(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    iam = ctx.client("iam")
    role_name = ctx.physical_name(ResourceType.IAM_ROLE, name, inputs, max_len=64)
    path = inputs.get("path") or "/"
    trust = _doc(inputs["assumeRolePolicy"])
    try:
        current = iam.get_role(RoleName=role_name)["Role"]
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        create: dict[str, Any] = {
            "RoleName": role_name,
            "Path": path,
            "AssumeRolePolicyDocument": trust,
            "Description": inputs.get("description", ""),
            "MaxSessionDuration": int(inputs.get("maxSessionDuration") or 3600),
        }
        if inputs.get("tags"):
            create["Tags"] = tag_list(inputs["tags"])
        current = iam.create_role(**create)["Role"]
    else:
        if not _same_doc(current.get("AssumeRolePolicyDocument"), trust):
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
        iam.update_role(RoleName=role_name, Description=inputs.get("description", ""))
        if inputs.get("tags"):
            iam.tag_role(RoleName=role_name, Tags=tag_list(inputs["tags"]))
    for inline in inputs.get("inlinePolicies") or []:
        if inline.get("name") and inline.get("policy"):
            iam.put_role_policy(
                RoleName=role_name, PolicyName=inline["name"], PolicyDocument=_doc(inline["policy"])
            )
    return role_name, {
        **inputs,
        "name": role_name,
        "path": path,
        "arn": current["Arn"],
        "uniqueId": current["RoleId"],
        "createDate": str(current["CreateDate"]),
        "tagsAll": ctx.tags_all(inputs),
    }


def _role_name(value: str) -> str:
    """Role inputs may be a name or an ARN."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def role_policy(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    role_name = _role_name(str(inputs["role"]))
    policy_name = ctx.physical_name(ResourceType.IAM_ROLE_POLICY, name, inputs, max_len=128)
    ctx.client("iam").put_role_policy(
        RoleName=role_name, PolicyName=policy_name, PolicyDocument=_doc(inputs["policy"])
    )
    return f"{role_name}:{policy_name}", {**inputs, "name": policy_name, "role": role_name}


def role_policy_attachment(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    role_name = _role_name(str(inputs["role"]))
    policy_arn = str(inputs["policyArn"])
    ctx.client("iam").attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    return f"{role_name}/{policy_arn}", dict(inputs)


def policy(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    iam = ctx.client("iam")
    policy_name = ctx.physical_name(ResourceType.IAM_POLICY, name, inputs, max_len=128)
    path = inputs.get("path") or "/"
    arn = f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{policy_name}"
    document = _doc(inputs["policy"])
    try:
        current = iam.get_policy(PolicyArn=arn)["Policy"]
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        create: dict[str, Any] = {
            "PolicyName": policy_name,
            "Path": path,
            "PolicyDocument": document,
        }
        if inputs.get("description"):
            create["Description"] = inputs["description"]
        if inputs.get("tags"):
            create["Tags"] = tag_list(inputs["tags"])
        current = iam.create_policy(**create)["Policy"]
    else:
        version = iam.get_policy_version(PolicyArn=arn, VersionId=current["DefaultVersionId"])
        if not _same_doc(version["PolicyVersion"]["Document"], document):
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            for old in sorted(versions, key=lambda v: v["CreateDate"])[: max(0, len(versions) - 4)]:
                if not old["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=old["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return arn, {
        **inputs,
        "name": policy_name,
        "path": path,
        "arn": arn,
        "policyId": current["PolicyId"],
        "tagsAll": ctx.tags_all(inputs),
    }


def instance_profile(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    iam = ctx.client("iam")
    profile_name = ctx.physical_name(ResourceType.IAM_INSTANCE_PROFILE, name, inputs, max_len=128)
    path = inputs.get("path") or "/"
    try:
        current = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        create: dict[str, Any] = {"InstanceProfileName": profile_name, "Path": path}
        if inputs.get("tags"):
            create["Tags"] = tag_list(inputs["tags"])
        current = iam.create_instance_profile(**create)["InstanceProfile"]
    wanted = _role_name(str(inputs["role"])) if inputs.get("role") else None
    attached = [r["RoleName"] for r in current.get("Roles", [])]
    for other in attached:
        if other != wanted:
            iam.remove_role_from_instance_profile(InstanceProfileName=profile_name, RoleName=other)
    if wanted and wanted not in attached:
        iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=wanted)
    return profile_name, {
        **inputs,
        "name": profile_name,
        "path": path,
        "arn": current["Arn"],
        "uniqueId": current["InstanceProfileId"],
        "createDate": str(current["CreateDate"]),
        "tagsAll": ctx.tags_all(inputs),
    }


HANDLERS = {
    ResourceType.IAM_ROLE: role,
    ResourceType.IAM_ROLE_POLICY: role_policy,
    ResourceType.IAM_ROLE_POLICY_ATTACHMENT: role_policy_attachment,
    ResourceType.IAM_POLICY: policy,
    ResourceType.IAM_INSTANCE_PROFILE: instance_profile,
}
