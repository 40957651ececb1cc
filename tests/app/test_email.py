"""Email validation end to end: DynamoDB record, the SES message read back from moto, confirm."""

from __future__ import annotations

import hashlib
import re
import time

import boto3
import pytest
from passport_app import create_app, load_settings

from tests.support.api_calls import assert_error
from tests.support.app_env import APP_ENV, ensure_app_resources
from tests.support.ses_mail import sent_messages

VALIDATE = "/api/v1/email/validate"
CONFIRM = "/api/v1/email/confirm"


def record(email: str) -> dict | None:
    item = boto3.client("dynamodb").get_item(
        TableName=APP_ENV["EMAIL_TABLE"], Key={"email": {"S": email}}, ConsistentRead=True
    )
    return item.get("Item")


def token_in(message: dict) -> str:
    match = re.search(r"/api/v1/email/confirm\?token=([A-Za-z0-9_-]+)", message["body"])
    assert match, message["body"]
    return match.group(1)


def test_validate_send_and_confirm(client, moto_endpoint: str) -> None:
    address = "alice@example.org"
    response = client.post(VALIDATE, json={"email": address})
    assert response.status_code == 202
    assert response.get_json() == {"status": "pending"}

    item = record(address)
    assert item is not None
    assert item["status"]["S"] == "pending"
    expires_at = int(item["expires_at"]["N"])
    assert 23 * 3600 < expires_at - time.time() <= 24 * 3600
    assert int(item["created_at"]["N"]) <= time.time()

    messages = sent_messages(moto_endpoint, address)
    assert len(messages) == 1
    assert messages[0]["source"] == APP_ENV["SENDER_EMAIL"]
    token = token_in(messages[0])
    assert "token" not in item  # only the hash is stored
    assert item["token_hash"]["S"] == hashlib.sha256(token.encode()).hexdigest()
    # The link is built from PUBLIC_BASE_URL, not from the request's host.
    assert messages[0]["body"].count("https://photos.example.com/api/v1/email/confirm?token=") >= 1

    confirmed = client.get(CONFIRM, query_string={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.get_json() == {"status": "verified", "email": address}
    item = record(address)
    assert item["status"]["S"] == "verified"
    assert "expires_at" not in item  # TTL must not delete a verified address
    # Confirming twice (a double click) is fine.
    assert client.get(CONFIRM, query_string={"token": token}).status_code == 200


def age_last_send(address: str, seconds: int) -> None:
    """Pretend the last mail went out ``seconds`` earlier (instead of sleeping a cooldown)."""
    item = record(address)
    boto3.client("dynamodb").update_item(
        TableName=APP_ENV["EMAIL_TABLE"],
        Key={"email": {"S": address}},
        UpdateExpression="SET last_sent_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(item["last_sent_at"]["N"]) - seconds)}},
    )


def test_repeated_requests_keep_one_record_and_only_the_newest_link(
    client, moto_endpoint: str
) -> None:
    address = "bob@example.org"
    for _ in range(3):
        assert client.post(VALIDATE, json={"email": address}).status_code == 202
        age_last_send(address, 61)  # past the resend cooldown
    tokens = [token_in(m) for m in sent_messages(moto_endpoint, address)]
    assert len(tokens) == 3 and len(set(tokens)) == 3
    items = boto3.client("dynamodb").scan(
        TableName=APP_ENV["EMAIL_TABLE"],
        FilterExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": address}},
    )["Items"]
    assert len(items) == 1
    assert items[0]["token_hash"]["S"] == hashlib.sha256(tokens[-1].encode()).hexdigest()
    assert_error(client.get(CONFIRM, query_string={"token": tokens[0]}), 404, "token_not_found")
    assert client.get(CONFIRM, query_string={"token": tokens[-1]}).status_code == 200


def test_case_variants_are_one_record_and_plus_tags_are_not_merged(client) -> None:
    assert client.post(VALIDATE, json={"email": "  Carol@EXAMPLE.org "}).status_code == 202
    assert record("carol@example.org") is not None
    # Case variants are the same address: one record, one cooldown (no second mail).
    assert_error(client.post(VALIDATE, json={"email": "CAROL@example.org"}), 429, "resend_too_soon")
    # A +tag names a different mailbox at some providers: its own record.
    assert client.post(VALIDATE, json={"email": "carol+x@example.org"}).status_code == 202
    assert record("carol+x@example.org") is not None


def test_expired_token_is_410(client, moto_endpoint: str) -> None:
    address = "dave@example.org"
    assert client.post(VALIDATE, json={"email": address}).status_code == 202
    token = token_in(sent_messages(moto_endpoint, address)[-1])
    boto3.client("dynamodb").update_item(
        TableName=APP_ENV["EMAIL_TABLE"],
        Key={"email": {"S": address}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert_error(client.get(CONFIRM, query_string={"token": token}), 410, "token_expired")
    assert record(address)["status"]["S"] == "pending"


def test_unknown_and_malformed_tokens_are_404(client) -> None:
    assert_error(client.get(CONFIRM, query_string={"token": "A" * 43}), 404, "token_not_found")
    assert_error(client.get(CONFIRM, query_string={"token": "<script>"}), 404, "token_not_found")


def test_missing_token_is_400(client) -> None:
    assert_error(client.get(CONFIRM), 400, "missing_token")
    assert_error(client.get(CONFIRM, query_string={"token": ""}), 400, "missing_token")


@pytest.mark.parametrize("address", ["not-an-email", "a@", "@example.org", "a b@example.org"])
def test_invalid_addresses_are_refused(client, address: str) -> None:
    error = assert_error(client.post(VALIDATE, json={"email": address}), 400, "invalid_email")
    assert address in error["message"]
    assert "The " not in error["message"]  # email-validator's own wording is not passed on


@pytest.mark.parametrize("body", [{}, {"email": 42}, {"mail": "a@example.org"}])
def test_missing_or_non_string_email_is_refused(client, body: dict) -> None:
    assert_error(client.post(VALIDATE, json=body), 400, "invalid_email")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ('["a@example.org"]', "application/json"),
        ("email=a@example.org", "application/x-www-form-urlencoded"),
    ],
)
def test_non_json_object_bodies_are_invalid_json(client, data: str, content_type: str) -> None:
    response = client.post(VALIDATE, data=data, content_type=content_type)
    assert_error(response, 400, "invalid_json")


def test_ses_refusal_is_502_without_library_details(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    env = {**APP_ENV, "SENDER_EMAIL": "unverified-sender@example.org"}
    app = create_app(load_settings(env), remover=remover)
    with app.test_client() as client:
        error = assert_error(
            client.post(VALIDATE, json={"email": "erin@example.org"}), 502, "email_delivery_failed"
        )
    assert "MessageRejected" not in error["message"]  # what failed, not the library's words


def test_missing_table_is_503_not_500(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    env = {**APP_ENV, "EMAIL_TABLE": "no-such-table"}
    app = create_app(load_settings(env), remover=remover)
    with app.test_client() as client:
        error = assert_error(
            client.post(VALIDATE, json={"email": "frank@example.org"}), 503, "storage_unavailable"
        )
        assert "ResourceNotFoundException" not in error["message"]
        assert_error(
            client.get(CONFIRM, query_string={"token": "B" * 43}), 503, "storage_unavailable"
        )


def test_validation_and_confirmation_are_recorded_as_events(client, moto_endpoint: str) -> None:
    before = _count_events()
    address = "grace@example.org"
    assert client.post(VALIDATE, json={"email": address}).status_code == 202
    token = token_in(sent_messages(moto_endpoint, address)[-1])
    client.get(CONFIRM, query_string={"token": token})
    after = _count_events()
    assert (
        after.get("email_validation_requested", 0)
        == before.get("email_validation_requested", 0) + 1
    )
    assert after.get("email_verified", 0) == before.get("email_verified", 0) + 1


def _count_events() -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in boto3.client("dynamodb").scan(TableName=APP_ENV["ANALYTICS_TABLE"])["Items"]:
        counts[item["type"]["S"]] = counts.get(item["type"]["S"], 0) + 1
    return counts


def test_events_carry_the_ttl_attribute(client) -> None:
    client.post(VALIDATE, json={"email": "heidi@example.org"})
    items = boto3.client("dynamodb").scan(TableName=APP_ENV["ANALYTICS_TABLE"])["Items"]
    assert items
    for item in items:
        ttl = int(item["expires_at"]["N"]) - int(item["created_at"]["N"])
        assert ttl == 90 * 86400  # ANALYTICS_TTL_DAYS default


# --- abuse resistance (issue 12) -------------------------------------------------------------


def test_a_forged_host_header_neither_answers_nor_poisons_the_link(
    client, moto_endpoint: str
) -> None:
    address = "ivan@example.org"
    response = client.post(VALIDATE, json={"email": address}, headers={"Host": "evil.example.net"})
    assert_error(response, 421, "unknown_host")
    assert sent_messages(moto_endpoint, address) == []
    assert record(address) is None
    # /health stays reachable by IP (the load balancer's health checks use the instance IP).
    assert client.get("/health", headers={"Host": "10.0.3.7:80"}).status_code == 200


def test_mail_bombing_one_address_sends_one_mail(client, moto_endpoint: str) -> None:
    address = "judy@example.org"
    statuses = [client.post(VALIDATE, json={"email": address}).status_code for _ in range(20)]
    assert statuses[0] == 202
    # Per-client limit and per-address cooldown both stop the rest; neither sends anything.
    assert set(statuses[1:]) == {429}
    assert len(sent_messages(moto_endpoint, address)) == 1


def test_resend_cooldown_answers_429_with_retry_after(client, moto_endpoint: str) -> None:
    address = "ken@example.org"
    assert client.post(VALIDATE, json={"email": address}).status_code == 202
    response = client.post(VALIDATE, json={"email": address})
    assert_error(response, 429, "resend_too_soon")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    age_last_send(address, 61)
    assert client.post(VALIDATE, json={"email": address}).status_code == 202
    assert len(sent_messages(moto_endpoint, address)) == 2


def test_daily_cap_per_address(client, moto_endpoint: str) -> None:
    address = "liz@example.org"
    for _ in range(5):  # EMAIL_DAILY_CAP default
        assert client.post(VALIDATE, json={"email": address}).status_code == 202
        age_last_send(address, 61)
    for limiter in client.application.extensions["limiter"]:
        limiter.reset()  # isolate the per-address cap from the per-client limit
    response = client.post(VALIDATE, json={"email": address})
    assert_error(response, 429, "daily_email_limit")
    assert 0 < int(response.headers["Retry-After"]) <= 86400
    assert len(sent_messages(moto_endpoint, address)) == 5


def test_two_instances_share_one_quota_per_address(moto_endpoint: str, remover) -> None:
    """Two app instances (own clients, own per-client limiters) take turns at one address.

    The quota lives in the DynamoDB record, not in an instance: one mail. (True simultaneity is
    DynamoDB's guarantee, a ConditionExpression is atomic per item; moto does not lock, so a
    threaded race here would test moto, not us.)
    """
    ensure_app_resources()
    apps = [create_app(load_settings(APP_ENV), remover=remover) for _ in range(2)]
    address = "mallory-target@example.org"
    statuses = []
    for i in range(8):
        with apps[i % 2].test_client() as c:
            statuses.append(c.post(VALIDATE, json={"email": address}).status_code)
    assert statuses == [202] + [429] * 7
    assert len(sent_messages(moto_endpoint, address)) == 1


def test_verified_stays_verified_and_is_not_mailed_again(client, moto_endpoint: str) -> None:
    address = "niaj@example.org"
    assert client.post(VALIDATE, json={"email": address}).status_code == 202
    token = token_in(sent_messages(moto_endpoint, address)[-1])
    assert client.get(CONFIRM, query_string={"token": token}).status_code == 200
    age_last_send(address, 3600)
    again = client.post(VALIDATE, json={"email": address})
    assert again.status_code == 200 and again.get_json() == {"status": "verified"}
    assert record(address)["status"]["S"] == "verified"
    assert len(sent_messages(moto_endpoint, address)) == 1
    assert client.get(CONFIRM, query_string={"token": token}).status_code == 200


def test_token_guessing_is_rate_limited(client) -> None:
    statuses = [
        client.get(CONFIRM, query_string={"token": f"{i:043d}"}).status_code for i in range(30)
    ]
    assert statuses[:20] == [404] * 20  # RATE_LIMIT_CONFIRM default: 20 per minute
    assert set(statuses[20:]) == {429}
    response = client.get(CONFIRM, query_string={"token": "x" * 43})
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_long_input_is_not_echoed_back(client) -> None:
    address = "a" * 10_000 + "@example.org"
    error = assert_error(client.post(VALIDATE, json={"email": address}), 400, "invalid_email")
    assert len(error["message"]) < 120
    error = assert_error(
        client.post(VALIDATE, json={"email": "x" * 200 + "@"}), 400, "invalid_email"
    )
    assert len(error["message"]) < 120
