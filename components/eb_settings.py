"""Elastic Beanstalk option settings for the environment, as a pure function.

Only settings that apply to this environment shape are emitted: EB silently drops the rest and
the provider then shows a diff on every run (pulumi-aws #920). So batch sizes appear only for
rolling policies, traffic-splitting knobs only for TrafficSplitting, and so on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

HEALTH_CHECK_PATH = "/health"
ROLLING_BATCH_PERCENT = 30
TRAFFIC_SPLIT_PERCENT = 10
TRAFFIC_SPLIT_EVALUATION_MINUTES = 5
MAINTENANCE_WINDOW = "Sun:03:00"
METRICS_PERIOD_SECONDS = 60
# Enhanced-health metrics the alarms need; EB publishes only EnvironmentHealth unless asked.
PUBLISHED_METRICS = ("ApplicationLatencyP99", "ApplicationRequests5xx", "ApplicationRequestsTotal")
# Per-instance metrics the canary judge's report and post-mortems need in CloudWatch (one
# series per instance, so the canary's instances can be told from the baseline's after the
# split): only published when the canary is on (each is a billed custom-resolution metric).
INSTANCE_METRICS = (
    "ApplicationRequestsTotal",
    "ApplicationRequests4xx",
    "ApplicationRequests5xx",
    "ApplicationLatencyP50",
    "ApplicationLatencyP90",
    "ApplicationLatencyP99",
)

# Load balancer health check of the instances (ALB target group). /health answers within
# ~10 ms even when photos saturate the CPU (inference is bounded below gunicorn's threads,
# app/passport_app/capacity.py; load test: /health p95 < 1 s at peak), so a 5 s timeout never
# takes a busy but healthy instance out of service; 3 misses at 10 s do take a dead one out in
# 30 s. The deregistration delay lets in-flight photos (p99 < 10 s) finish before an instance
# leaves during a deployment or scale-in.
HEALTH_CHECK_INTERVAL_S = 10
HEALTH_CHECK_TIMEOUT_S = 5
HEALTHY_THRESHOLD = 3
UNHEALTHY_THRESHOLD = 3
DEREGISTRATION_DELAY_S = 20
# Autoscaling on CPU: a photo is ~1 CPU-second and nothing else costs CPU, so CPU tracks the
# photo load; one instance saturates (and starts answering 503 busy) at 100 %. Scale out at 70 %
# average over 2 minutes, so a new instance (~3-5 min to boot and pass health) arrives before
# the rest saturate; scale in below 25 % (half of 70 % with margin, so scale-in cannot trigger
# an immediate scale-out).
SCALE_METRIC = "CPUUtilization"
SCALE_UPPER_PERCENT = 70
SCALE_LOWER_PERCENT = 25
SCALE_PERIOD_MIN = 1
SCALE_EVALUATION_PERIODS = 2
SCALE_BREACH_MIN = SCALE_PERIOD_MIN * SCALE_EVALUATION_PERIODS
"""EB derives the alarms from Period × EvaluationPeriods; a BreachDuration that is not that
product is rewritten by EB, and the provider then shows a diff on every run."""
MONITORING_INTERVAL = {1: "1 minute", 5: "5 minute"}
"""EC2 metrics at 1-minute resolution (detailed monitoring) when the trigger's Period is 1: with
the default 5-minute interval a 1-minute alarm sees a data point only every fifth period."""

NS_ENV = "aws:elasticbeanstalk:environment"
NS_APP_ENV = "aws:elasticbeanstalk:application:environment"
NS_COMMAND = "aws:elasticbeanstalk:command"


@dataclass(frozen=True)
class EnvironmentShape:
    """The stack-dependent inputs of the option settings."""

    instance_type: str
    min_instances: int
    max_instances: int
    deployment_policy: str
    log_retention_days: int
    certificate_arn: str | None = None
    """HTTPS listener on the load balancer (ACM certificate)."""
    vpc_id: str | None = None
    subnets: tuple[str, ...] = ()
    """The instances' subnets."""
    elb_subnets: tuple[str, ...] = ()
    """The load balancer's subnets (public ones for a public ALB)."""
    associate_public_ip_address: bool = False
    elb_scheme: str = "public"
    new_version_percent: int = TRAFFIC_SPLIT_PERCENT
    """TrafficSplitting: the share of requests the new instances take (the `canary` key)."""
    evaluation_minutes: int = TRAFFIC_SPLIT_EVALUATION_MINUTES
    """TrafficSplitting: how long they take it before EB shifts everything."""
    canary: bool = False
    """The canary judge runs on deploys: publish the per-instance metrics it reads."""


def health_config_document(*, instance_metrics: bool = False) -> str:
    """EB enhanced-health ConfigDocument: publish alarm metrics, ignore expected 4xx.

    The API answers bad uploads with 400/413/415/422 by design; counted as failures they would
    drive the environment to Degraded and page someone for a user's blurry selfie. With
    `instance_metrics` (the canary on), the per-instance request and latency metrics go to
    CloudWatch too.
    """
    instance = {m: METRICS_PERIOD_SECONDS for m in INSTANCE_METRICS} if instance_metrics else {}
    document = {
        "Version": 1,
        "CloudWatchMetrics": {
            "Environment": {metric: METRICS_PERIOD_SECONDS for metric in PUBLISHED_METRICS},
            "Instance": instance,
        },
        "Rules": {
            "Environment": {
                "Application": {"ApplicationRequests4xx": {"Enabled": False}},
                "ELB": {"ELBRequests4xx": {"Enabled": False}},
            }
        },
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def deployment_settings(
    policy: str,
    new_version_percent: int = TRAFFIC_SPLIT_PERCENT,
    evaluation_minutes: int = TRAFFIC_SPLIT_EVALUATION_MINUTES,
) -> list[tuple[str, str, str]]:
    """Settings for application deployments and configuration rollouts under `policy`."""
    settings = [(NS_COMMAND, "DeploymentPolicy", policy)]
    if policy in ("Rolling", "RollingWithAdditionalBatch"):
        settings += [
            (NS_COMMAND, "BatchSizeType", "Percentage"),
            (NS_COMMAND, "BatchSize", str(ROLLING_BATCH_PERCENT)),
        ]
    if policy == "TrafficSplitting":
        settings += [
            (
                "aws:elasticbeanstalk:trafficsplitting",
                "NewVersionPercent",
                str(new_version_percent),
            ),
            (
                "aws:elasticbeanstalk:trafficsplitting",
                "EvaluationTime",
                str(evaluation_minutes),
            ),
        ]
    if policy != "AllAtOnce":
        # Configuration changes (instance type, ...) roll out as carefully as code does.
        update_type = "Immutable" if policy in ("Immutable", "TrafficSplitting") else "Health"
        settings += [
            ("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateEnabled", "true"),
            ("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateType", update_type),
        ]
    return settings


#: TLS 1.3 with 1.2 fallback (AWS's recommended ALB policy).
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def network_settings(shape: EnvironmentShape) -> list[tuple[str, str, str]]:
    """HTTPS listener (when a certificate is configured) and VPC placement (when given)."""
    settings: list[tuple[str, str, str]] = []
    if shape.certificate_arn:
        https = "aws:elbv2:listener:443"
        settings += [
            (https, "ListenerEnabled", "true"),
            (https, "Protocol", "HTTPS"),
            (https, "SSLCertificateArns", shape.certificate_arn),
            (https, "SSLPolicy", SSL_POLICY),
        ]
    if shape.vpc_id:
        # The ALB and the instances each in their own subnets, with the public-IP and scheme
        # choices stated (components/config/rules_network.py checks they fit together).
        settings += [
            ("aws:ec2:vpc", "VPCId", shape.vpc_id),
            ("aws:ec2:vpc", "Subnets", ",".join(shape.subnets)),
            ("aws:ec2:vpc", "ELBSubnets", ",".join(shape.elb_subnets)),
            (
                "aws:ec2:vpc",
                "AssociatePublicIpAddress",
                "true" if shape.associate_public_ip_address else "false",
            ),
            ("aws:ec2:vpc", "ELBScheme", shape.elb_scheme),
        ]
    return settings


def health_check_settings() -> list[tuple[str, str, str]]:
    """The ALB health check, explicit (EB's defaults are not what the app was measured with)."""
    ns = "aws:elasticbeanstalk:environment:process:default"
    return [
        (ns, "HealthCheckInterval", str(HEALTH_CHECK_INTERVAL_S)),
        (ns, "HealthCheckTimeout", str(HEALTH_CHECK_TIMEOUT_S)),
        (ns, "HealthyThresholdCount", str(HEALTHY_THRESHOLD)),
        (ns, "UnhealthyThresholdCount", str(UNHEALTHY_THRESHOLD)),
        (ns, "DeregistrationDelay", str(DEREGISTRATION_DELAY_S)),
    ]


def scaling_settings(shape: EnvironmentShape) -> list[tuple[str, str, str]]:
    """The autoscaling trigger; only when the environment can scale (max > min).

    Period 1 minute needs 1-minute EC2 metrics (MonitoringInterval), and BreachDuration is
    Period × EvaluationPeriods, as EB computes it.
    """
    if shape.max_instances <= shape.min_instances:
        return []
    ns = "aws:autoscaling:trigger"
    interval = MONITORING_INTERVAL[1 if SCALE_PERIOD_MIN < 5 else 5]
    return [
        ("aws:autoscaling:launchconfiguration", "MonitoringInterval", interval),
        (ns, "MeasureName", SCALE_METRIC),
        (ns, "Statistic", "Average"),
        (ns, "Unit", "Percent"),
        (ns, "Period", str(SCALE_PERIOD_MIN)),
        (ns, "EvaluationPeriods", str(SCALE_EVALUATION_PERIODS)),
        (ns, "BreachDuration", str(SCALE_PERIOD_MIN * SCALE_EVALUATION_PERIODS)),
        (ns, "UpperThreshold", str(SCALE_UPPER_PERCENT)),
        (ns, "LowerThreshold", str(SCALE_LOWER_PERCENT)),
        (ns, "UpperBreachScaleIncrement", "1"),
        (ns, "LowerBreachScaleIncrement", "-1"),
    ]


def option_settings(
    shape: EnvironmentShape,
    *,
    instance_profile: pulumi.Input[str],
    service_role: pulumi.Input[str],
    env_vars: Mapping[str, pulumi.Input[str]],
) -> list[tuple[str, str, pulumi.Input[str]]]:
    """(namespace, name, value) triples for the environment; values may be Outputs."""
    logs = "aws:elasticbeanstalk:cloudwatch:logs"
    health_logs = "aws:elasticbeanstalk:cloudwatch:logs:health"
    retention = str(shape.log_retention_days)
    settings: list[tuple[str, str, pulumi.Input[str]]] = [
        # Capacity: a load-balanced environment in every stack, so dev exercises the same ALB,
        # health check and deployment paths as prod.
        (NS_ENV, "EnvironmentType", "LoadBalanced"),
        (NS_ENV, "LoadBalancerType", "application"),
        (NS_ENV, "ServiceRole", service_role),
        ("aws:autoscaling:asg", "MinSize", str(shape.min_instances)),
        ("aws:autoscaling:asg", "MaxSize", str(shape.max_instances)),
        ("aws:ec2:instances", "InstanceTypes", shape.instance_type),
        ("aws:autoscaling:launchconfiguration", "IamInstanceProfile", instance_profile),
        # IMDSv2 only (also makes EB use launch templates, required in new accounts).
        ("aws:autoscaling:launchconfiguration", "DisableIMDSv1", "true"),
        # Health.
        ("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced"),
        (
            "aws:elasticbeanstalk:healthreporting:system",
            "ConfigDocument",
            health_config_document(instance_metrics=shape.canary),
        ),
        ("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath", HEALTH_CHECK_PATH),
        ("aws:elasticbeanstalk:environment:process:default", "MatcherHTTPCode", "200"),
        *health_check_settings(),
        # Managed platform updates in a weekly window.
        ("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled", "true"),
        ("aws:elasticbeanstalk:managedactions", "PreferredStartTime", MAINTENANCE_WINDOW),
        ("aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel", "minor"),
        # Logs to CloudWatch, kept after instances (or the environment) go away.
        (logs, "StreamLogs", "true"),
        (logs, "DeleteOnTerminate", "false"),
        (logs, "RetentionInDays", retention),
        (health_logs, "HealthStreamingEnabled", "true"),
        (health_logs, "DeleteOnTerminate", "false"),
        (health_logs, "RetentionInDays", retention),
    ]
    settings += deployment_settings(
        shape.deployment_policy, shape.new_version_percent, shape.evaluation_minutes
    )
    settings += network_settings(shape)
    settings += scaling_settings(shape)
    settings += [(NS_APP_ENV, key, value) for key, value in sorted(env_vars.items())]
    return settings
