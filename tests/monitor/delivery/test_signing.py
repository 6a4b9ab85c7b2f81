from __future__ import annotations

import base64
import time

import httpx
import pytest
import standardwebhooks

from monitor.delivery.signing import SigningKeyError, sign_request, signature

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"type":"drift.detected","timestamp":"2024-05-01T12:30:15.250000Z","data":{}}'


def _signed(secret: str | None, body: bytes = BODY) -> httpx.Request:
    request = httpx.Request("POST", "http://127.0.0.1/hook", content=body)
    sign_request(request, "msg_abc", int(time.time()), secret)
    return request


def test_signature_verifies_with_the_reference_implementation() -> None:
    request = _signed(SECRET)
    verified = standardwebhooks.Webhook(SECRET).verify(request.content, dict(request.headers))
    assert verified == {
        "type": "drift.detected",
        "timestamp": "2024-05-01T12:30:15.250000Z",
        "data": {},
    }


def test_tampered_body_fails_verification() -> None:
    request = _signed(SECRET)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(
            BODY.replace(b"{}", b'{"x":1}'), dict(request.headers)
        )


def test_other_secret_fails_verification() -> None:
    request = _signed(SECRET)
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(request.content, dict(request.headers))


def test_known_vector() -> None:
    # The example from the Standard Webhooks specification.
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_unpadded_secret_matches_padded() -> None:
    unpadded = SECRET.rstrip("=")
    assert signature(unpadded, "m", 1, b"x") == signature(SECRET, "m", 1, b"x")


def test_without_a_secret_id_and_timestamp_are_still_sent() -> None:
    request = _signed(None)
    assert request.headers["webhook-id"] == "msg_abc"
    assert request.headers["webhook-timestamp"].isdigit()
    assert "webhook-signature" not in request.headers


def test_a_bad_secret_is_an_error_that_does_not_quote_it() -> None:
    with pytest.raises(SigningKeyError) as raised:
        _signed("whsec_not*base64!SECRETVALUE")
    assert "SECRETVALUE" not in str(raised.value)
