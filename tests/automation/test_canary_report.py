"""canary.json and the canary section of report.html (automation/canary/report.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from automation.canary.judge import REQUESTS, JudgeConfig, Verdict, judge
from automation.canary.report import distribution_svg, render_section, write_report
from common.jsonfile import read_json
from verify.reports.html import render_page


def _verdict(slower: float) -> Verdict:
    rng = np.random.default_rng(22)

    def side(factor: float) -> dict[str, list[float]]:
        base = rng.lognormal(np.log(40), 0.2, 80) * factor
        return {
            "latency_p50": list(base),
            "latency_p75": list(base * 1.5),
            "latency_p90": list(base * 2),
            "latency_p99": list(base * 4),
            "error_rate_5xx": [0.0] * 80,
            "error_rate_4xx": list(rng.integers(0, 3, 80).astype(float)),
            REQUESTS: [40.0] * 80,
        }

    return judge(side(1.0), side(slower), JudgeConfig.default())


def test_the_section_shows_each_metric_with_its_chart_p_value_effect_and_class() -> None:
    verdict = _verdict(1.6)
    html = render_section(verdict)
    assert verdict.decision == "fail" and ">fail<" in html
    assert f"score {verdict.score:g}" in html
    for metric in verdict.metrics:
        row = html.split(f"<b>{metric.name}</b>")[1].split("</tr>")[0]
        assert "<svg" in row and "<rect" in row
        assert f">{metric.classification}<" in row
        assert (f"{metric.p_value:.3g}" if metric.p_value is not None else "–") in row
        assert metric.effect is not None
        shown = (
            f"{metric.effect:+.2f} pp"
            if metric.name.startswith("error")
            else (f"{100 * metric.effect:+.1f} %")
        )
        assert shown in row
    assert "<script" not in html and "http" not in html  # self-contained


def test_the_chart_draws_both_sides_on_one_axis() -> None:
    svg = distribution_svg([1.0, 1.0, 2.0], [3.0, 4.0])
    ys = [float(y) for y in re.findall(r'<rect x="[\d.]+" y="([\d.]+)"', svg)]
    mid = 32.0
    assert any(y < mid for y in ys) and any(y == mid for y in ys)  # baseline up, canary down
    assert ">1<" in svg and ">4<" in svg  # the shared axis's ends


def test_canary_json_round_trips_and_the_section_joins_verifys_page(tmp_path: Path) -> None:
    verdict = _verdict(1.0)
    page = tmp_path / "report.html"
    page.write_text(render_page("Deployment verification", "#1a7f37", ["<section>x</section>"]))
    paths = write_report(verdict, tmp_path)
    assert Verdict.from_json(read_json(paths["json"])) == verdict
    text = page.read_text()
    assert text.count('id="canary"') == 1 and text.index('id="canary"') < text.index(">x<")


def test_without_a_verify_page_the_canary_gets_a_page_of_its_own(tmp_path: Path) -> None:
    verdict = _verdict(1.6)
    paths = write_report(verdict, tmp_path)
    text = paths["html"].read_text()
    assert text.startswith("<!doctype html>") and 'id="canary"' in text
    assert verdict.reason in text.replace("&#x27;", "'")
