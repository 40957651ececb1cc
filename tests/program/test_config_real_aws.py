"""Stack config rules that only real AWS enforces (issue 21): refused before anything is touched,
naming the key and the allowed values."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import StackConfigError, parse_stack_config

NS = "passport-photo-backend:"


def raw(**keys: Any) -> dict[str, Any]:
    config = {
        "aws:region": "us-east-1",
        NS + "environment": "staging",
        NS + "allowInsecureHttp": True,
        NS + "senderEmail": "noreply@example.com",
        NS + "publicBaseUrl": "https://api.example.com",
    }
    config.update({NS + key: value for key, value in keys.items()})
    return config


def problems(**keys: Any) -> str:
    with pytest.raises(StackConfigError) as info:
        parse_stack_config("staging", raw(**keys))
    return "\n".join(str(i) for i in info.value.issues)


@pytest.mark.parametrize("days", [1096, 2192, 2557, 2922, 3288])
def test_log_retention_only_takes_what_eb_retention_in_days_accepts(days: int) -> None:
    """CloudWatch Logs takes these, EB's RetentionInDays option does not (the update fails)."""
    text = problems(logRetentionDays=days)
    assert f"logRetentionDays: got {days}" in text
    assert "1827, 3653" in text and "1096" not in text.split("allowed", 1)[1]


@pytest.mark.parametrize("days", [1, 731, 1827, 3653])
def test_log_retention_values_eb_accepts(days: int) -> None:
    assert parse_stack_config("staging", raw(logRetentionDays=days)).log_retention_days == days
