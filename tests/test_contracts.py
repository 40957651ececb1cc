"""The engine ↔ program bundle hand-over: both engines decide "EB already holds it" here."""

from __future__ import annotations

from common.contracts import VERSION_EXISTS_ENV, version_exists_env


def test_a_label_eb_holds_outside_the_state_is_referenced() -> None:
    assert version_exists_env("v-1", eb_holds=True, managed=["v-0"]) == {VERSION_EXISTS_ENV: "true"}
    assert version_exists_env("v-1", eb_holds=True, managed=[]) == {VERSION_EXISTS_ENV: "true"}


def test_a_label_the_state_manages_is_declared_again() -> None:
    assert version_exists_env("v-1", eb_holds=True, managed=["v-0", "v-1"]) == {}


def test_a_label_eb_does_not_hold_is_created() -> None:
    assert version_exists_env("v-1", eb_holds=False, managed=[]) == {}
