"""The load check's parts that need no running stack: Locust CSV parsing, thresholds, phases,
opt-in selection and the report links."""

from __future__ import annotations

from pathlib import Path

import verify
from automation.wiring import verifier
from verify import select
from verify.checks.load import DEFAULT_PLAN, judge, read_stats, svg_chart
from verify.load_shape import phase_at
from verify.model import Report

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,"
    "75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
)


def stats_csv(tmp_path: Path, photo_p95: int, photo_failures: int) -> Path:
    rows = [
        "GET,health,200,0,12,14,3,80,90,3.3,0,12,13,14,15,20,30,40,50,80,80,80",
        "POST,email,50,0,70,80,40,300,20,0.8,0,70,75,80,90,100,120,150,200,300,300,300",
        f"POST,photo,40,{photo_failures},2000,2500,900,{photo_p95 + 500},9000,0.6,0,2000,2200,"
        f"2400,2600,3000,{photo_p95},{photo_p95},{photo_p95 + 100},{photo_p95 + 500},"
        f"{photo_p95 + 500},{photo_p95 + 500}",
        ",Aggregated,290,0,20,400,3,9000,1000,4.7,0,20,30,50,70,900,2000,3000,4000,9000,9000,9000",
    ]
    path = tmp_path / "locust_stats.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_stats_per_endpoint_and_thresholds_pass(tmp_path: Path) -> None:
    stats = read_stats(stats_csv(tmp_path, photo_p95=4000, photo_failures=0))
    assert stats["photo"]["p95_ms"] == 4000 and stats["photo"]["rps"] == 0.6
    assert stats["health"]["error_rate"] == 0.0 and stats["email"]["p99_ms"] == 200
    assert judge(stats, DEFAULT_PLAN["thresholds"]).items == []


def test_a_slow_or_failing_endpoint_is_named(tmp_path: Path) -> None:
    stats = read_stats(stats_csv(tmp_path, photo_p95=7000, photo_failures=2))
    found = judge(stats, DEFAULT_PLAN["thresholds"]).items
    assert any(p.startswith("photo p95: expected ≤ 6000 ms, got 7000 ms") for p in found)
    assert any(p.startswith("photo error rate: expected ≤ 1.00%, got 5.00% (2/40)") for p in found)
    assert not any(p.startswith(("health", "email")) for p in found)
    del stats["email"]
    assert any(
        "email: expected requests" in p for p in judge(stats, DEFAULT_PLAN["thresholds"]).items
    )


def test_phases_warm_ramp_sustain_peak_cool() -> None:
    seen = [phase_at(t, 9, 100) for t in range(0, 101, 5)]
    names = [s[0] for s in seen if s]
    assert names[0] == "warm-up" and names[-1] == "cool-down" and seen[-1] is None
    assert [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n] == [
        "warm-up",
        "ramp-up",
        "sustained",
        "peak",
        "cool-down",
    ]
    assert max(s[1] for s in seen if s) == 9
    ramp = [s[1] for s in seen if s and s[0] == "ramp-up"]
    assert ramp == sorted(ramp) and ramp[0] < ramp[-1]


def test_load_is_opt_in_unless_the_stack_asks() -> None:
    assert "load" not in [c.name for c in select(None, {})]
    assert "load" not in [c.name for c in select(None, {"load_test": {"runInPipeline": False}})]
    asks = {"load_test": {"runInPipeline": True}}
    assert "load" in [c.name for c in select(None, asks, pipeline=True)]
    assert "load" not in [c.name for c in select(None, asks)]  # `python -m verify` by hand
    assert [c.name for c in select(["load"])] == ["readiness", "load"]


def test_chart_is_an_svg_with_a_line_per_series() -> None:
    svg = svg_chart("t", [0, 1, 2], {"p95": [1.0, 2.0, 3.0], "p99": [2.0, 3.0, 4.0]})
    assert svg.startswith("<svg") and svg.count("<polyline") == 2


def test_the_pipelines_verifier_runs_load_when_the_stack_asks(monkeypatch, tmp_path) -> None:
    """`automation run`/`rollback`/`verify` pass pipeline=True; `python -m verify` does not."""
    selected: list[list[str]] = []

    def fake_run(outputs, **kwargs):  # noqa: ANN001, ANN003, ANN202 - stands in for verify.run
        chosen = select(kwargs.get("only"), outputs, pipeline=kwargs.get("pipeline", False))
        selected.append([c.name for c in chosen])
        return Report({}, 0.0, {}, stack="prod")

    monkeypatch.setattr(verify, "run", fake_run)
    verifier()({"load_test": {"runInPipeline": True}}, tmp_path)
    verifier()({"load_test": {"runInPipeline": False}}, tmp_path)
    assert "load" in selected[0] and "load" not in selected[1]
