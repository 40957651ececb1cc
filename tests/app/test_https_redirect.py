"""Issue 10 item 9: with a certificate on the ALB (FORCE_HTTPS), plain HTTP is redirected to
HTTPS at the configured public host, never at the request's Host (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from passport_app import create_app, load_settings
from passport_app.config import ConfigError

from tests.support.app_env import APP_ENV

PUBLIC = "https://photos.example.com"  # APP_ENV's PUBLIC_BASE_URL
CNAME = "pp-staging.us-east-1.elasticbeanstalk.com"
HTTPS_ENV = {
    **APP_ENV,
    "FORCE_HTTPS": "true",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,.us-east-1.elasticbeanstalk.com",
}
ALB_HTTP = {"X-Forwarded-Proto": "http", "Host": CNAME}


@pytest.fixture(scope="module")
def https_client(moto_endpoint: str, remover):
    with create_app(load_settings(HTTPS_ENV), remover=remover).test_client() as client:
        yield client


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_http_through_the_alb_is_redirected_to_the_public_https_host(
    https_client, method: str
) -> None:
    response = https_client.open(
        "/api/v1/email/confirm?token=abc&x=1", method=method, headers=ALB_HTTP
    )
    assert response.status_code == 308  # keeps the method and body (a 301 turns POST into GET)
    assert response.headers["Location"] == f"{PUBLIC}/api/v1/email/confirm?token=abc&x=1"


def test_the_target_host_never_comes_from_the_request(https_client) -> None:
    # A path that looks like a network-path reference stays a path on our host.
    response = https_client.get(
        "/", headers=ALB_HTTP, environ_overrides={"PATH_INFO": "//evil.example/phish"}
    )
    assert response.status_code == 308
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc) == ("https", "photos.example.com")
    assert location.path.endswith("evil.example/phish")
    forged = https_client.get(
        "/api/v1/photos/specs", headers={**ALB_HTTP, "X-Forwarded-Host": "evil.example"}
    )
    assert forged.headers["Location"] == f"{PUBLIC}/api/v1/photos/specs"


def test_https_health_checks_and_direct_requests_are_served(https_client) -> None:
    https = https_client.get("/health", headers={"X-Forwarded-Proto": "https", "Host": CNAME})
    assert https.status_code != 308
    # The ALB's health checks: plain HTTP to the instance, no X-Forwarded-Proto.
    assert https_client.get("/health", headers={"Host": "10.0.1.7"}).status_code != 308
    assert https_client.get("/health", headers=ALB_HTTP).status_code != 308
    assert (
        https_client.get("/api/v1/photos/specs", headers={"Host": "localhost"}).status_code != 308
    )


def test_without_a_certificate_http_is_served(client) -> None:
    response = client.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert response.status_code != 308
    assert client.get("/api/v1/nope", headers={"X-Forwarded-Proto": "http"}).status_code != 308


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"FORCE_HTTPS": "yes"}, "FORCE_HTTPS: 'yes' — allowed: true, false"),
        (
            {"FORCE_HTTPS": "true", "PUBLIC_BASE_URL": "http://photos.example.com"},
            "allowed: an https:// PUBLIC_BASE_URL",
        ),
    ],
)
def test_force_https_needs_an_https_public_url(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match="FORCE_HTTPS") as caught:
        load_settings({**APP_ENV, **env})
    assert needle in str(caught.value)
