"""CloudWatch's side of Elastic Beanstalk in the sandbox: publish the EB metrics, judge alarms.

On AWS, enhanced health publishes the environment metrics the health ConfigDocument asks for
(ApplicationRequestsTotal, ApplicationRequests5xx, ApplicationLatencyP99, EnvironmentHealth,
...) to the `AWS/ElasticBeanstalk` namespace, and CloudWatch evaluates every alarm on them each
period. moto does neither: it stores alarms and datapoints but never evaluates an alarm. So the
stack's moto process runs this agent (sandbox/moto_main.py starts it when it serves a stack):

* it reads the load balancer's per-request measurements (sandbox/proxy.py's metrics file) and
  the instances' health states, and keeps them for as long as the longest alarm looks back;
* every period it publishes the environment's metrics to moto's CloudWatch (PutMetricData,
  dimension EnvironmentName), as EB does;
* it evaluates the alarms on `AWS/ElasticBeanstalk` metrics of this environment as CloudWatch
  does — the alarm's statistic per `Period`, the last `EvaluationPeriods` periods,
  `DatapointsToAlarm` of them breaching `Threshold` by `ComparisonOperator`, `TreatMissingData`,
  and metric-math alarms (`IF`, `FILL`, `METRICS`, `SUM`, arithmetic) — and sets their state
  with SetAlarmState when it changes, with CloudWatch's kind of reason.

Under `--time-scale F` (sandbox state `time_scale`) a period of P seconds lasts P / F seconds,
so a 5-minute alarm window fits a compressed bake. Alarms on other namespaces (DynamoDB, WAF,
log metric filters) are not fed here and keep moto's state.
"""

from __future__ import annotations

import ast
import bisect
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.jsonfile import read_json
from common.paths import StackPaths
from sandbox.eb_health import HEALTH_WORDS, environment_health_value, latency_summary
from sandbox.proxy import read_metrics

EB_NAMESPACE = "AWS/ElasticBeanstalk"
BASE_PERIOD_S = 60
#: Longest history kept (in scaled seconds): CloudWatch alarms look back at most a day, ours
#: at most EvaluationPeriods × Period; an hour covers every alarm of the program.
MAX_HISTORY_S = 3600.0
TICK_S = 0.5
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


class Measurements:
    """Requests and health samples of one environment, in time order, for period queries."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.requests: list[tuple[float, int, float]] = []
        self.health: list[tuple[float, int]] = []
        self.seen: dict[str, float] = {}

    def ingest(self, metrics: Mapping[str, Any], now: float, keep_s: float) -> None:
        fresh: list[tuple[float, int, float]] = []
        counts = {k: 0 for k in ("NoData", "Unknown", "Pending", "Ok", "Info", "Warning",
                                 "Degraded", "Severe")}  # fmt: skip
        for port, backend in (metrics.get("backends") or {}).items():
            last = self.seen.get(port, 0.0)
            rows = [(float(t), int(s), float(lat)) for t, s, lat in backend.get("requests") or []]
            fresh += [r for r in rows if r[0] > last]
            if rows:
                self.seen[port] = max(last, max(r[0] for r in rows))
            counts[HEALTH_WORDS.get(str(backend.get("state")), ("Unknown", ""))[0]] += 1
        if metrics.get("backends"):
            self.health.append((now, environment_health_value(counts)))
        for row in sorted(fresh):
            at = bisect.bisect_right(self.times, row[0])
            self.times.insert(at, row[0])
            self.requests.insert(at, row)
        cut = bisect.bisect_left(self.times, now - keep_s)
        if cut:
            del self.times[:cut], self.requests[:cut]
        self.health = [h for h in self.health if h[0] >= now - keep_s]

    def window(self, start: float, end: float) -> list[tuple[float, int, float]]:
        return self.requests[
            bisect.bisect_left(self.times, start) : bisect.bisect_left(self.times, end)
        ]

    def metric(self, name: str, start: float, end: float) -> float | None:
        """One EB environment metric over [start, end): None where EB publishes nothing."""
        if name == "EnvironmentHealth":
            values = [v for t, v in self.health if start <= t < end]
            return float(max(values)) if values else None
        if not self.health or self.health[0][0] > end:
            return None  # the agent was not watching yet
        rows = self.window(start, end)
        if name == "ApplicationRequestsTotal":
            return float(len(rows))
        if name.startswith("ApplicationRequests") and name.endswith("xx"):
            cls = int(name[-3])
            return float(sum(1 for _, s, _ in rows if s // 100 == cls))
        if name.startswith("ApplicationLatency"):
            return latency_summary(lat for _, _, lat in rows).get(
                name.removeprefix("ApplicationLatency")
            )
        return None


# -- metric math (the subset CloudWatch alarms of this program use) ---------------------------


def evaluate_expression(expression: str, values: Mapping[str, float | None]) -> float | None:
    """A CloudWatch metric-math expression over one period's values (None: no datapoint)."""
    tree = ast.parse(expression.replace("METRICS()", "METRICS"), mode="eval")

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id == "METRICS":
                return [values[k] for k in sorted(values)]
            if node.id not in values:
                raise ValueError(f"unknown metric id {node.id!r} in {expression!r}")
            return values[node.id]
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if left is None or right is None:
                return None
            ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                   ast.Div: operator.truediv}  # fmt: skip
            if isinstance(node.op, ast.Div) and right == 0:
                return None
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = ev(node.operand)
            return None if value is None else -value
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = ev(node.left), ev(node.comparators[0])
            if left is None or right is None:
                return None
            ops = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt,
                   ast.LtE: operator.le, ast.Eq: operator.eq, ast.NotEq: operator.ne}  # fmt: skip
            return 1.0 if ops[type(node.ops[0])](left, right) else 0.0
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name, args = node.func.id.upper(), [ev(a) for a in node.args]
            if name == "IF":
                cond = args[0]
                if cond is None:
                    return None
                return args[1] if cond else (args[2] if len(args) > 2 else None)
            if name == "FILL":
                fill = args[1]
                if isinstance(args[0], list):
                    return [fill if v is None else v for v in args[0]]
                return fill if args[0] is None else args[0]
            if name == "SUM":
                items = args[0] if isinstance(args[0], list) else args
                present = [v for v in items if v is not None]
                return float(sum(present)) if present else None
        raise ValueError(f"metric math not supported by the sandbox: {expression!r}")

    result = ev(tree)
    return None if isinstance(result, list) else result


# -- alarms ---------------------------------------------------------------------------------


def _dims(dimensions: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in dimensions or []}


def watches_environment(alarm: Mapping[str, Any], environment: str) -> bool:
    """Is this alarm on an AWS/ElasticBeanstalk metric of `environment`?"""
    stats = (
        [alarm]
        if alarm.get("MetricName")
        else [q["MetricStat"]["Metric"] for q in alarm.get("Metrics") or [] if q.get("MetricStat")]
    )
    for stat in stats:
        if stat.get("Namespace") == EB_NAMESPACE and (
            _dims(stat.get("Dimensions")).get("EnvironmentName") == environment
        ):
            return True
    return False


def alarm_period(alarm: Mapping[str, Any]) -> int:
    if alarm.get("Period"):
        return int(alarm["Period"])
    periods = [int(q["MetricStat"]["Period"]) for q in alarm.get("Metrics") or []
               if q.get("MetricStat")] + [int(q["Period"]) for q in alarm.get("Metrics") or []
               if q.get("Period")]  # fmt: skip
    return max(periods, default=BASE_PERIOD_S)


def datapoint(
    alarm: Mapping[str, Any], data: Measurements, environment: str, start: float, end: float
) -> float | None:
    """The alarm's value over one period (its metric, or its metric-math expression)."""
    if alarm.get("MetricName"):
        if _dims(alarm.get("Dimensions")).get("EnvironmentName") != environment:
            return None
        return data.metric(str(alarm["MetricName"]), start, end)
    values: dict[str, float | None] = {}
    expression = None
    for query in alarm.get("Metrics") or []:
        if query.get("MetricStat"):
            metric = query["MetricStat"]["Metric"]
            ours = metric.get("Namespace") == EB_NAMESPACE and (
                _dims(metric.get("Dimensions")).get("EnvironmentName") == environment
            )
            values[query["Id"]] = data.metric(metric["MetricName"], start, end) if ours else None
        elif query.get("ReturnData", True) and query.get("Expression"):
            expression = query["Expression"]
    if expression is None:
        return next((v for v in values.values() if v is not None), None)
    return evaluate_expression(expression, values)


def judge_alarm(alarm: Mapping[str, Any], points: Sequence[float | None]) -> tuple[str, str] | None:
    """(new state, reason) for the last EvaluationPeriods datapoints; None keeps the state."""
    threshold = float(alarm["Threshold"])
    compare = COMPARE[alarm["ComparisonOperator"]]
    needed = int(alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods") or 1)
    treat = alarm.get("TreatMissingData") or "missing"
    present = [p for p in points if p is not None]
    if not present:
        if treat == "breaching":
            breaching = len(points)
        elif treat == "notBreaching":
            breaching = 0
        elif treat == "ignore":
            return None
        else:
            return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received."
    else:
        missing_bad = treat == "breaching"
        breaching = sum(
            1
            for p in points
            if (p is None and missing_bad) or (p is not None and compare(p, threshold))
        )
    shown = ", ".join("missing" if p is None else f"{p:g}" for p in points)
    words = WORDS[alarm["ComparisonOperator"]]
    if breaching >= needed:
        return "ALARM", (
            f"Threshold Crossed: {breaching} out of the last {len(points)} datapoints [{shown}] "
            f"were {words} the threshold ({threshold:g}) (minimum {needed} datapoints for "
            "OK -> ALARM transition)."
        )
    return "OK", (
        f"Threshold Crossed: {len(points) - breaching} out of the last {len(points)} datapoints "
        f"[{shown}] were not {words} the threshold ({threshold:g})."
    )


class CloudWatchAgent:
    """Publishes one sandbox stack's EB metrics to its moto and evaluates the stack's alarms.

    `cloudwatch` is a boto3 CloudWatch client of the stack's own moto (the public API: what
    EB and CloudWatch do on AWS, nothing of moto's internals).
    """

    def __init__(
        self,
        state_dir: Path,
        cloudwatch: Callable[[str], Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.paths = StackPaths(state_dir.parent, state_dir.name)
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.data = Measurements()
        self.scale = 1.0
        self.published: dict[tuple[str, int], int] = {}
        self.evaluated: dict[str, int] = {}
        self._boundary: int | None = None
        self._stop = threading.Event()

    def tick(self) -> None:
        try:
            state = read_json(self.paths.sandbox, default={}) or {}
        except ValueError:
            return
        app = state.get("app") or {}
        environment = app.get("environment")
        if not environment:
            return
        region = (app.get("env_vars") or {}).get("AWS_REGION") or "us-east-1"
        scale = float(state.get("time_scale") or 1.0)
        if scale != self.scale:  # a new run with another --time-scale: periods start afresh
            self.scale, self.published, self.evaluated, self._boundary = scale, {}, {}, None
        now = self.clock()
        self.data.ingest(read_metrics(self.paths.proxy_target), now, MAX_HISTORY_S / scale)
        # CloudWatch acts at period boundaries: between two (every alarm's period is a multiple
        # of a minute, scaled alike) there is nothing to publish or evaluate.
        boundary = int(now // (BASE_PERIOD_S / scale))
        if boundary == self._boundary:
            return
        self._boundary = boundary
        client = self.cloudwatch(region)
        self.publish(client, environment, now)
        self.evaluate(client, environment, now)

    def publish(self, client: Any, environment: str, now: float) -> None:
        """PutMetricData for each EB metric of the last completed base period."""
        period = BASE_PERIOD_S / self.scale
        index = int(now // period) - 1
        if self.published.get((environment, 0)) == index:
            return
        start, end = index * period, (index + 1) * period
        data = []
        for name, unit in (("ApplicationRequestsTotal", "Count"),
                           ("ApplicationRequests2xx", "Count"),
                           ("ApplicationRequests4xx", "Count"),
                           ("ApplicationRequests5xx", "Count"),
                           ("ApplicationLatencyP99", "Seconds"),
                           ("ApplicationLatencyP90", "Seconds"),
                           ("ApplicationLatencyP50", "Seconds"),
                           ("EnvironmentHealth", "None")):  # fmt: skip
            value = self.data.metric(name, start, end)
            if value is not None:
                data.append({
                    "MetricName": name,
                    "Dimensions": [{"Name": "EnvironmentName", "Value": environment}],
                    "Timestamp": datetime.fromtimestamp(end, tz=UTC),
                    "Value": value,
                    "Unit": unit,
                })  # fmt: skip
        if data:
            client.put_metric_data(Namespace=EB_NAMESPACE, MetricData=data)
        self.published[(environment, 0)] = index

    def evaluate(self, client: Any, environment: str, now: float) -> None:
        """Each alarm on this environment's EB metrics, once per completed period of its own."""
        for alarm in _all_alarms(client):
            if not watches_environment(alarm, environment):
                continue
            period = alarm_period(alarm) / self.scale
            last = int(now // period) - 1
            name = alarm["AlarmName"]
            if self.evaluated.get(name) == last:
                continue
            self.evaluated[name] = last
            count = int(alarm.get("EvaluationPeriods") or 1)
            points = [
                datapoint(alarm, self.data, environment, i * period, (i + 1) * period)
                for i in range(last - count + 1, last + 1)
            ]
            verdict = judge_alarm(alarm, points)
            if verdict is None or verdict[0] == alarm.get("StateValue"):
                continue
            state, reason = verdict
            client.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason[:1023])

    def run(self) -> None:
        """Tick until stopped; an error in one tick is logged and the next tick tries again."""
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - the agent must outlive one bad tick
                print(f"cloudwatch agent: {type(exc).__name__}: {exc}", flush=True)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="sandbox-cloudwatch-agent", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def _all_alarms(client: Any) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.describe_alarms(**({"NextToken": token} if token else {}))
        alarms += page.get("MetricAlarms", [])
        token = page.get("NextToken")
        if not token:
            return alarms
