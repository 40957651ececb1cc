"""EB health check and autoscaling trigger: explicit, and the trigger only where it can act."""

from __future__ import annotations

import dataclasses

from components.eb_settings import (
    EnvironmentShape,
    health_check_settings,
    network_settings,
    scaling_settings,
)

PROCESS = "aws:elasticbeanstalk:environment:process:default"


def shape(low: int, high: int) -> EnvironmentShape:
    return EnvironmentShape("c7i.large", low, high, "Immutable", 30)


def test_health_check_timeout_and_interval_are_explicit() -> None:
    got = {name: value for ns, name, value in health_check_settings() if ns == PROCESS}
    assert got["HealthCheckTimeout"] == "5" and got["HealthCheckInterval"] == "10"
    assert int(got["HealthCheckTimeout"]) < int(got["HealthCheckInterval"])  # AWS requires it
    assert {"HealthyThresholdCount", "UnhealthyThresholdCount", "DeregistrationDelay"} <= set(got)


def test_autoscaling_trigger_on_cpu_only_when_the_environment_can_scale() -> None:
    assert scaling_settings(shape(2, 2)) == []
    trigger = {name: value for _, name, value in scaling_settings(shape(2, 6))}
    assert trigger["MeasureName"] == "CPUUtilization" and trigger["Unit"] == "Percent"
    assert int(trigger["LowerThreshold"]) < int(trigger["UpperThreshold"]) <= 80


def test_a_one_minute_trigger_sees_one_minute_metrics_and_a_consistent_breach() -> None:
    """Period 1 with EC2's default 5-minute monitoring sees one data point in five periods, and
    a BreachDuration other than Period × EvaluationPeriods is rewritten by EB (a diff forever)."""
    settings = scaling_settings(shape(2, 6))
    trigger = {name: value for ns, name, value in settings if ns == "aws:autoscaling:trigger"}
    launch = {
        name: value for ns, name, value in settings if ns == "aws:autoscaling:launchconfiguration"
    }
    period = int(trigger["Period"])
    assert int(trigger["BreachDuration"]) == period * int(trigger["EvaluationPeriods"])
    assert launch["MonitoringInterval"] == ("1 minute" if period < 5 else "5 minute")


def test_vpc_settings_place_the_alb_and_the_instances_apart() -> None:
    """Issue 21 item 2: ELBSubnets, Subnets, AssociatePublicIpAddress and ELBScheme each
    stated (before, one list went to both and the rest was EB's default)."""
    vpc = dataclasses.replace(
        shape(2, 4),
        vpc_id="vpc-0123456789abcdef0",
        subnets=("subnet-a1", "subnet-a2"),
        elb_subnets=("subnet-b1", "subnet-b2"),
        associate_public_ip_address=True,
        elb_scheme="internal",
    )
    got = {name: value for ns, name, value in network_settings(vpc) if ns == "aws:ec2:vpc"}
    assert got == {
        "VPCId": "vpc-0123456789abcdef0",
        "Subnets": "subnet-a1,subnet-a2",
        "ELBSubnets": "subnet-b1,subnet-b2",
        "AssociatePublicIpAddress": "true",
        "ELBScheme": "internal",
    }
    assert network_settings(shape(2, 4)) == []  # the default VPC: nothing set
