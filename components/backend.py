"""PassportPhotoBackend: the whole stack, composed from the single-purpose components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from common.contracts import OUTPUTS
from components import naming
from components.app_environment import AppEnvironment, AppEnvironmentArgs, DataAccess
from components.config import StackConfig
from components.dashboard import Dashboard
from components.datastore import Datastore, DatastoreArgs
from components.eb_settings import EnvironmentShape
from components.mailer import Mailer, MailerArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.storage import Storage, StorageArgs
from components.tagging import standard_tags
from components.waf import Waf, WafArgs

MODEL_HOME = "models"
"""U2NET_HOME inside the bundle: weights ship with the app, so instances never download them."""

STACK_OUTPUTS = tuple(OUTPUTS)
"""The stack outputs contract, in export order: `common.contracts.OUTPUTS`' keys (verify reads
only these; adding an output is one entry there, and `stack_outputs` must then export it)."""


class OutputsContractError(RuntimeError):
    """The program's exports and `common.contracts.OUTPUTS` disagree (a bug, caught at export)."""


TRUSTED_PROXY_HOPS = 2
"""ALB + nginx: each appends one X-Forwarded-For entry in front of gunicorn."""


def abuse_env_vars(cfg: StackConfig) -> dict[str, str]:
    """The app's abuse-control settings (docs/threat-model.md) from the stack config.

    ALLOWED_HOSTS: the public host, extra configured names, and the region's EB CNAME suffix
    (api_url and verify reach the environment by its CNAME, which is unknown before it exists).
    """
    abuse = cfg.abuse
    hosts = [abuse.public_host, *abuse.allowed_hosts, f".{cfg.region}.elasticbeanstalk.com"]
    return {
        "PUBLIC_BASE_URL": abuse.public_base_url,
        "ALLOWED_HOSTS": ",".join(dict.fromkeys(hosts)),
        "EMAIL_RESEND_COOLDOWN_SECONDS": str(abuse.email_resend_cooldown_s),
        "EMAIL_DAILY_CAP": str(abuse.email_daily_cap),
        "ANALYTICS_TTL_DAYS": str(abuse.analytics_retention_days),
        "TRUSTED_PROXY_HOPS": str(TRUSTED_PROXY_HOPS),
        "RATE_LIMIT_EXEMPT_CIDRS": ",".join(abuse.rate_limit_exempt_cidrs),
        # The ALB terminates TLS with certificateArn; the app redirects HTTP to it (issue 10).
        "FORCE_HTTPS": "true" if cfg.certificate_arn else "false",
    }


@dataclass
class BackendArgs:
    config: StackConfig
    bundle_path: str
    version_label: str
    solution_stack_name: pulumi.Input[str] | None = None
    version_registered: bool = False


class PassportPhotoBackend(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: BackendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:backend:PassportPhotoBackend", name, None, opts)
        cfg = args.config
        self.config = cfg
        tags = standard_tags(cfg)
        child = pulumi.ResourceOptions(parent=self)

        self.storage = Storage(
            name,
            StorageArgs(
                tags=tags,
                cors_allowed_origins=cfg.cors_allowed_origins,
                photo_retention_days=cfg.photo_retention_days,
                deletion_protection=cfg.deletion_protection,
            ),
            opts=child,
        )
        self.datastore = Datastore(
            name, DatastoreArgs(tags=tags, deletion_protection=cfg.deletion_protection), opts=child
        )
        self.mailer = Mailer(
            name,
            MailerArgs(
                sender_email=cfg.sender_email,
                configuration_set_name=naming.configuration_set_name(cfg.stack),
                sender_domain=cfg.sender_domain,
                route53_zone_id=cfg.route53_zone_id,
            ),
            opts=child,
        )
        env_vars: dict[str, pulumi.Input[str]] = {
            "EMAIL_TABLE": self.datastore.email_table.name,
            "ANALYTICS_TABLE": self.datastore.analytics_table.name,
            "MEDIA_BUCKET": self.storage.media_bucket.bucket,
            "SENDER_EMAIL": cfg.sender_email,
            "SES_CONFIGURATION_SET": self.mailer.configuration_set.name,
            "CORS_ALLOWED_ORIGINS": ",".join(cfg.cors_allowed_origins),
            "REMBG_MODEL": cfg.background_removal_model,
            "U2NET_HOME": MODEL_HOME,
            "MAX_UPLOAD_MB": str(cfg.max_upload_mb),
            "AWS_REGION": cfg.region,
            **abuse_env_vars(cfg),
        }
        self.app = AppEnvironment(
            name,
            AppEnvironmentArgs(
                application_name=naming.application_name(cfg.stack),
                environment_name=naming.environment_name(cfg.stack),
                region=cfg.region,
                shape=EnvironmentShape(
                    instance_type=cfg.instance_type,
                    min_instances=cfg.min_instances,
                    max_instances=cfg.max_instances,
                    deployment_policy=cfg.deployment_policy,
                    log_retention_days=cfg.log_retention_days,
                    certificate_arn=cfg.certificate_arn,
                    vpc_id=cfg.vpc_id,
                    subnets=cfg.subnets,
                    elb_subnets=cfg.elb_subnets,
                    associate_public_ip_address=cfg.associate_public_ip_address,
                    elb_scheme=cfg.elb_scheme,
                    new_version_percent=cfg.canary.new_version_percent,
                    evaluation_minutes=cfg.canary.evaluation_minutes,
                    canary=cfg.canary.enabled,
                ),
                bundle_path=args.bundle_path,
                version_label=args.version_label,
                version_registered=args.version_registered,
                public_base_url=cfg.abuse.public_base_url,
                artifact_bucket=self.storage.artifact_bucket.id,
                data_access=DataAccess(
                    email_table_arn=self.datastore.email_table.arn,
                    analytics_table_arn=self.datastore.analytics_table.arn,
                    media_bucket_arn=self.storage.media_bucket.arn,
                    artifact_bucket_arn=self.storage.artifact_bucket.arn,
                    ses_identity_arn=self.mailer.identity_arn,
                    sender_email=cfg.sender_email,
                    ses_configuration_set_arn=self.mailer.configuration_set.arn,
                ),
                env_vars=env_vars,
                tags=tags,
                solution_stack_name=args.solution_stack_name or cfg.solution_stack,
                deploy_timeout_minutes=cfg.deploy_timeout_minutes,
            ),
            opts=child,
        )
        self.waf: Waf | None = None
        waf_dimensions = None
        if cfg.abuse.waf_rate_limit:
            # EB reports an application load balancer by its ARN.
            self.waf = Waf(
                name,
                WafArgs(
                    load_balancer_arn=self.app.environment.load_balancers[0],
                    rate_limit=cfg.abuse.waf_rate_limit,
                    exempt_cidrs=cfg.abuse.rate_limit_exempt_cidrs,
                    tags=tags,
                ),
                opts=child,
            )
            waf_dimensions = {
                "WebACL": self.waf.web_acl.name,
                "Rule": self.waf.metric_name,
                "Region": cfg.region,
            }
        self.monitoring = Monitoring(
            name,
            MonitoringArgs(
                environment_name=self.app.environment.name,
                tables={
                    "emails": self.datastore.email_table.name,
                    "analytics": self.datastore.analytics_table.name,
                },
                latency_budget_ms=cfg.latency_budget_ms,
                alarm_email=cfg.alarm_email,
                tags=tags,
                waf_dimensions=waf_dimensions,
            ),
            opts=child,
        )
        self.dashboard = Dashboard(
            name,
            environment_name=self.app.environment.name,
            stack=cfg.stack,
            region=cfg.region,
            opts=child,
        )
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, Any]:
        """Exactly the OUTPUTS contract, in its order, as Outputs or plain values.

        Checked here, when the program exports them, so an output added to the contract but
        not here (or the other way round) fails every preview instead of a verify run later.
        """
        cfg = self.config
        outputs: dict[str, Any] = {
            "stack": cfg.stack,
            "region": cfg.region,
            "api_url": self.app.endpoint,
            "environment_name": self.app.environment.name,
            "application_name": self.app.application.name,
            "app_version": self.app.version_name,
            "artifact_bucket": self.storage.artifact_bucket.bucket,
            "media_bucket": self.storage.media_bucket.bucket,
            "email_table": self.datastore.email_table.name,
            "analytics_table": self.datastore.analytics_table.name,
            "sender_email": cfg.sender_email,
            "ses_configuration_set": self.mailer.configuration_set.name,
            "alarm_topic_arn": self.monitoring.topic.arn,
            "cors_allowed_origins": list(cfg.cors_allowed_origins),
            "latency_budget_ms": cfg.latency_budget_ms,
            "max_upload_mb": cfg.max_upload_mb,
            "ses_dns_records": self.mailer.dns_records,
            "load_test": dict(cfg.load_test),
            "eb_cname": self.app.environment.cname,
            "dashboard_url": self.dashboard.url,
        }
        missing = [key for key in OUTPUTS if key not in outputs]
        extra = [key for key in outputs if key not in OUTPUTS]
        if missing or extra:
            raise OutputsContractError(
                f"stack outputs disagree with common.contracts.OUTPUTS: missing {missing}, "
                f"not in the contract {extra}"
            )
        return {key: outputs[key] for key in OUTPUTS}
