"""The four keys and pipeline health from hand-written records and runs with known answers."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.delivery import parse_since
from automation.errors import UsageError
from automation.fourkeys import DAY, four_keys, frequency_band, nearest_rank
from automation.records import DeploymentRecord
from automation.run_health import run_health
from automation.status import RecordKind, RecordStatus

#: Monday 2026-11-02 00:00 UTC: a week starts here, so the weeks below are whole.
T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
H = 3600.0


def rec(
    start_h: float,
    status: RecordStatus,
    *,
    took_h: float = 0.5,
    commit_h_before: float | None = None,
    kind: RecordKind = RecordKind.DEPLOY,
    version: str = "v",
) -> DeploymentRecord:
    start = T0 + start_h * H
    record = DeploymentRecord(stack="staging", app_version=version, engine="stub", kind=kind)
    record.status, record.started_at, record.finished_at = status, start, start + took_h * H
    if commit_h_before is not None:
        record.commit_time = start - commit_h_before * H
    return record


V, F, RB = RecordStatus.VERIFIED, RecordStatus.VERIFY_FAILED, RecordStatus.ROLLED_BACK

#: Two weeks: 5 verified deploys (lead 2h, 4h, 6h, 8h, 30h: each + 0.5h to verified), a deploy
#: that failed verify (restored by the next verified deploy 10h later), a rolled-back one
#: (restored by its rollback record 1h after it started), one interrupted (not counted).
RECORDS = [
    rec(1, V, commit_h_before=2),
    rec(25, V, commit_h_before=4),
    rec(49, F),  # failure at 49h; next verified: the 59h deploy, done 59.5h -> 10.5h
    rec(59, V, commit_h_before=6),
    rec(170, RB),  # failure at 170h (week 2); rollback record verified at 171h -> 1h
    rec(170.5, V, took_h=0.5, kind=RecordKind.ROLLBACK),
    rec(180, V, commit_h_before=8),
    rec(200, V, commit_h_before=30),
    rec(210, RecordStatus.INTERRUPTED),
    rec(400, V, commit_h_before=1),  # after the window (14 days = 336 h)
]
UNTIL = T0 + 14 * DAY


def test_the_four_keys_of_known_records() -> None:
    keys = four_keys(RECORDS, stack="staging", since=T0, until=UNTIL, min_samples=3)
    assert keys.deploys == 7  # 5 verified + 2 failed; the interrupted one and rollbacks not
    freq = keys.deployment_frequency
    assert freq.count == 5 and freq.value == pytest.approx(5 / 14)
    assert freq.extra["per_week"] == pytest.approx(2.5)
    assert freq.band == "weekly"  # week 1: 3 deploy days, week 2: 2 -> median 2.5 days
    lead = keys.lead_time_s
    assert lead.count == 5 and lead.value == pytest.approx(6.5 * H)  # 2.5 4.5 6.5 8.5 30.5 h
    assert lead.extra["p90"] == pytest.approx(30.5 * H) and lead.band == "less than one week"
    rate = keys.change_failure_rate
    assert rate.value == pytest.approx(2 / 7) and rate.extra["failures"] == 2
    assert rate.band == "16-45 %"
    restore = keys.time_to_restore_s
    # three needed, two restored: says so instead of a number
    assert restore.value is None and restore.count == 2
    assert restore.too_few == "too few restored failures (2; a figure needs 3)"
    loose = four_keys(RECORDS, stack="staging", since=T0, until=UNTIL, min_samples=2)
    assert loose.time_to_restore_s.value == pytest.approx(statistics.median([10.5 * H, 1 * H]))
    assert loose.time_to_restore_s.band == "less than one day"
    assert [(w["week"], w["deploys"], w["failed"]) for w in keys.weeks] == [
        ("2026-W45", 4, 1),
        ("2026-W46", 3, 1),
    ]
    assert keys.weeks[0]["lead_time_s"] == pytest.approx(4.5 * H)


def test_too_few_deploys_say_so_instead_of_a_number() -> None:
    keys = four_keys(RECORDS[:2], stack="staging", since=T0, until=UNTIL, min_samples=3)
    for figure in (keys.deployment_frequency, keys.change_failure_rate, keys.lead_time_s):
        assert figure.value is None and figure.too_few.startswith("too few")
    assert keys.lead_time_s.extra == {}


def test_an_unrestored_failure_is_counted_apart() -> None:
    keys = four_keys([rec(1, V), rec(5, F)], stack="s", since=T0, until=UNTIL, min_samples=1)
    assert keys.time_to_restore_s.count == 0 and keys.time_to_restore_s.extra["unrestored"] == 1


def test_frequency_bands_follow_fourkeys_buckets() -> None:
    daily = [rec(d * 24 + 1, V) for d in range(14) if d % 7 < 5]  # weekdays
    assert frequency_band(daily, T0, UNTIL) == "daily"
    assert frequency_band([rec(1, V), rec(170, V)], T0, UNTIL) == "weekly"
    month = T0 + 90 * DAY
    assert frequency_band([rec(1, V), rec(800, V), rec(1600, V)], T0, month) == "monthly"
    assert frequency_band([rec(1, V)], T0, month) == "yearly"


def test_pipeline_health_flags_a_stage_slower_than_its_recent_p95() -> None:
    def run(i: int, status: str, up_s: float) -> dict:
        stages = [{"stage": "check", "duration_s": 10.0}, {"stage": "up", "duration_s": up_s}]
        return {"command": "run", "status": status, "started_at": T0 + i * H, "stages": stages}

    runs = [run(i, "succeeded", 100.0 + i) for i in range(6)] + [run(6, "rolled_back", 300.0)]
    runs.append({"command": "verify", "status": "failed", "started_at": T0, "stages": []})
    health = run_health(runs, since=T0, until=UNTIL)
    assert (health.runs, health.succeeded) == (7, 6)
    assert health.success_rate == pytest.approx(6 / 7)
    by_stage = {s.stage: s for s in health.stages}
    assert by_stage["up"].slower and by_stage["up"].recent_p95_s == 105.0
    assert by_stage["up"].p50_s == 103.0 and by_stage["up"].p95_s == 300.0
    assert not by_stage["check"].slower and health.slower == ["up"]
    few = run_health(runs[-3:], since=T0, until=UNTIL)  # two earlier runs: no judgement
    assert not few.slower


@pytest.mark.parametrize("text", ["30", "0d", "3m", "", "d30"])
def test_a_bad_window_is_a_usage_error_naming_the_forms(text: str) -> None:
    with pytest.raises(UsageError, match=r"48h, 30d, 12w"):
        parse_since(text)
    assert parse_since("2w") == 14 * DAY


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=13 * 24, allow_nan=False),
            st.sampled_from([V, F, RB, RecordStatus.DEPLOYED, RecordStatus.INTERRUPTED]),
            st.floats(min_value=0.01, max_value=100, allow_nan=False),
        ),
        max_size=30,
    )
)
def test_figures_stay_within_their_definitions(items: list) -> None:
    records = [rec(start, status, commit_h_before=lead) for start, status, lead in items]
    keys = four_keys(records, stack="s", since=T0, until=UNTIL, min_samples=1)
    counted = [r for r in records if r.status != RecordStatus.INTERRUPTED]
    assert keys.deploys == len(counted)
    rate = keys.change_failure_rate
    if counted:
        failed = sum(1 for r in counted if r.status in (F, RB))
        assert rate.value == pytest.approx(failed / len(counted)) and 0 <= rate.value <= 1
    else:
        assert rate.value is None and rate.too_few
    lead = keys.lead_time_s
    if lead.value is not None:
        p90 = lead.extra["p90"]
        assert (p90 is None or lead.value <= p90) and lead.value > 0
    restored = keys.time_to_restore_s
    assert restored.count + restored.extra["unrestored"] == sum(
        1 for r in counted if r.status in (F, RB)
    )
    assert sum(w["deploys"] for w in keys.weeks) == keys.deploys
    values = [r.started_at for r in records] or [0.0]
    assert nearest_rank(values, 0.5) in values
