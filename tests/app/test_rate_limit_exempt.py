"""Trusted load generators (rateLimitExemptCidrs) are not counted by the per-client limits.

A load test from one machine is one client: without the exemption the `load` check measures
the limiter (429s), not the service. The exemption is keyed by the same real client address
the limits use (ProxyFix over EB's two hops), so a forged X-Forwarded-For cannot claim it.
"""

from __future__ import annotations

import pytest
from passport_app import create_app, load_settings
from passport_app.config import ConfigError

from tests.support.app_env import APP_ENV

VALIDATE = "/api/v1/email/validate"
LOAD_GENERATOR = "198.51.100.7"
OTHER = "203.0.113.9"


def _post(client, client_ip: str, forged: str | None = None):
    # EB: the ALB appends the client, nginx appends the ALB; anything left of that is forgeable.
    chain = ", ".join([*([forged] if forged else []), client_ip, "10.0.0.5"])
    return client.post(
        VALIDATE,
        json={"email": "not-an-address"},  # 400 after the limiter: no mail, no record
        headers={"X-Forwarded-For": chain, "Host": "localhost"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def _app(exempt: str, remover):
    env = {**APP_ENV, "RATE_LIMIT_VALIDATE": "2 per minute", "RATE_LIMIT_EXEMPT_CIDRS": exempt}
    return create_app(load_settings(env), remover=remover)


def test_an_exempt_load_generator_is_not_limited_and_others_still_are(
    moto_endpoint: str, remover
) -> None:
    app = _app(f"{LOAD_GENERATOR}/32", remover)
    with app.test_client() as client:
        assert [_post(client, LOAD_GENERATOR).status_code for _ in range(6)] == [400] * 6
        codes = [_post(client, OTHER).status_code for _ in range(3)]
        assert codes == [400, 400, 429]
        # Claiming the load generator's address in a forged entry does not exempt anyone.
        assert _post(client, OTHER, forged=LOAD_GENERATOR).status_code == 429


def test_without_the_exemption_the_load_generator_is_limited_like_anyone(
    moto_endpoint: str, remover
) -> None:
    app = _app("", remover)
    with app.test_client() as client:
        assert [_post(client, LOAD_GENERATOR).status_code for _ in range(3)] == [400, 400, 429]


def test_a_bad_exemption_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_EXEMPT_CIDRS: 'not-a-cidr'"):
        load_settings({**APP_ENV, "RATE_LIMIT_EXEMPT_CIDRS": "not-a-cidr"})
