"""Email validation end to end: DynamoDB record, the SES message read back from moto, confirm."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import boto3
import pytest
from passport_app import create_app, load_settings

from .conftest import APP_ENV, ensure_app_resources
from .test_photos import assert_error

VALIDATE = "/api/v1/email/validate"
CONFIRM = "/api/v1/email/confirm"


def sent_messages(endpoint: str, to: str) -> list[dict]:
    """Messages moto's SES accepted for ``to`` (its /moto-api/data.json view)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as resp:  # noqa: S310
        data = json.load(resp)
    return [m for m in data["ses"]["Message"] if to in m["destinations"]["ToAddresses"]]


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
    assert token == item["token"]["S"]
    assert messages[0]["body"].count("http://localhost/api/v1/email/confirm?token=") >= 1

    confirmed = client.get(CONFIRM, query_string={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.get_json() == {"status": "verified", "email": address}
    item = record(address)
    assert item["status"]["S"] == "verified"
    assert "expires_at" not in item  # TTL must not delete a verified address
    # Confirming twice (a double click) is fine.
    assert client.get(CONFIRM, query_string={"token": token}).status_code == 200


def test_repeated_requests_keep_one_record_and_only_the_newest_link(
    client, moto_endpoint: str
) -> None:
    address = "bob@example.org"
    for _ in range(3):
        assert client.post(VALIDATE, json={"email": address}).status_code == 202
    tokens = [token_in(m) for m in sent_messages(moto_endpoint, address)]
    assert len(tokens) == 3 and len(set(tokens)) == 3
    items = boto3.client("dynamodb").scan(
        TableName=APP_ENV["EMAIL_TABLE"],
        FilterExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": address}},
    )["Items"]
    assert len(items) == 1 and items[0]["token"]["S"] == tokens[-1]
    assert_error(client.get(CONFIRM, query_string={"token": tokens[0]}), 404, "token_not_found")
    assert client.get(CONFIRM, query_string={"token": tokens[-1]}).status_code == 200


def test_address_is_normalised(client) -> None:
    assert client.post(VALIDATE, json={"email": "  Carol@EXAMPLE.org "}).status_code == 202
    assert record("Carol@example.org") is not None


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


def test_ses_refusal_is_502_and_names_the_failure(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    env = {**APP_ENV, "SENDER_EMAIL": "unverified-sender@example.org"}
    app = create_app(load_settings(env), remover=remover)
    with app.test_client() as client:
        error = assert_error(
            client.post(VALIDATE, json={"email": "erin@example.org"}), 502, "email_delivery_failed"
        )
    assert "MessageRejected" in error["message"]


def test_missing_table_is_503_not_500(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    env = {**APP_ENV, "EMAIL_TABLE": "no-such-table"}
    app = create_app(load_settings(env), remover=remover)
    with app.test_client() as client:
        error = assert_error(
            client.post(VALIDATE, json={"email": "frank@example.org"}), 503, "storage_unavailable"
        )
        assert "ResourceNotFoundException" in error["message"]
        assert_error(
            client.get(CONFIRM, query_string={"token": "B" * 43}), 503, "storage_unavailable"
        )


def test_validation_and_confirmation_are_recorded_as_events(client, moto_endpoint: str) -> None:
    before = _count_events()
    address = "grace@example.org"
    client.post(VALIDATE, json={"email": address})
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
