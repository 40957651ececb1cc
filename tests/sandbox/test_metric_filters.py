"""The sandbox realises the program's metric filter on moto and refuses what AWS would refuse;
filter patterns match the way CloudWatch Logs documents them."""

from __future__ import annotations

import copy
from pathlib import Path

import boto3
import pytest

from common.contracts import SANDBOX_AWS_ENV
from sandbox.realise import HANDLERS
from sandbox.realise.context import RealiseContext
from sandbox.realise.filter_patterns import InvalidFilterPattern, matches
from tests.support.program_graph import build_graph, make_fake_bundle
from tests.support.stack_files import stack_file_config

FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"


@pytest.fixture(scope="module")
def dev_filter(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The LogMetricFilter inputs exactly as the program declares them for the dev stack."""
    bundle = make_fake_bundle(Path(tmp_path_factory.mktemp("bundle")))
    return build_graph("dev", stack_file_config("dev"), bundle).one(FILTER).inputs


def _ctx(endpoint: str) -> RealiseContext:
    return RealiseContext("dev", "passport-photo-backend", "us-east-1", endpoint, SANDBOX_AWS_ENV)


def test_dev_filter_is_realised_on_the_environments_log_group(
    clean_moto: str, dev_filter: dict
) -> None:
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=clean_moto)
    group = dev_filter["logGroupName"]
    with pytest.raises(ValueError, match="does not exist"):  # AWS: ResourceNotFoundException
        HANDLERS[FILTER](_ctx(clean_moto), "passport-dev-rejected", copy.deepcopy(dev_filter))
    logs.create_log_group(logGroupName=group)  # EB does this when StreamLogs is on
    name, _ = HANDLERS[FILTER](_ctx(clean_moto), "passport-dev-rejected", copy.deepcopy(dev_filter))
    (found,) = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert (found["filterName"], found["filterPattern"]) == (name, dev_filter["pattern"])
    assert found["metricTransformations"][0]["metricName"] == "RejectedRequests"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"pattern": '%"status":429%'}, "not supported"),  # quotes are outside regex's set
        ({"pattern": "%(status)%"}, "not supported"),  # no parentheses
        ({"pattern": "%status"}, "unterminated"),
        ({"pattern": '"status 429'}, "unbalanced quotes"),
        ({"pattern": "{ $.status = 429"}, "unbalanced"),
        ({"pattern": "x" * 1025}, "max 1024"),
        ({"name": "a:b"}, "no ':'"),
        ({"metricTransformation": {"name": "Rejected:Requests"}}, "metricName"),
        ({"metricTransformation": {"namespace": "Passport*"}}, "metricNamespace"),
        ({"metricTransformation": {"unit": "Requests"}}, "not a CloudWatch unit"),
    ],
)
def test_refuses_what_aws_refuses(
    clean_moto: str, dev_filter: dict, change: dict, why: str
) -> None:
    inputs = copy.deepcopy(dev_filter)
    for key, value in change.items():
        if isinstance(value, dict):
            inputs[key].update(value)
        else:
            inputs[key] = value
    boto3.client("logs", region_name="us-east-1", endpoint_url=clean_moto).create_log_group(
        logGroupName=inputs["logGroupName"]
    )
    with pytest.raises((ValueError, InvalidFilterPattern), match=why):
        HANDLERS[FILTER](_ctx(clean_moto), "passport-dev-rejected", inputs)


def test_term_and_regex_patterns_match_as_documented() -> None:
    event = "[ERROR 401] UNAUTHORIZED REQUEST"
    assert matches("ERROR", event) and matches("ERROR REQUEST", event)
    assert not matches("ERROR -UNAUTHORIZED", event)
    assert matches("?WARN ?ERROR", event) and not matches("?WARN ?INFO", event)
    assert matches('"401] UNAUTHORIZED"', event) and not matches('"401 UNAUTHORIZED"', event)
    assert matches("%AUTHORIZED%", event) and matches("%^.ERROR.40[0-9]%", event)
    assert not matches("%^ERROR%", event)
    assert matches("", event)
