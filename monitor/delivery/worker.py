"""The outbox worker: claim due messages, send them, record every attempt.

Every stage that is the same for all receivers lives here, wrapped around a
``Notifier``: the rate limit, the egress check, the timeout, Standard Webhooks
signing, classification of network errors, backoff, dead-lettering, redaction
of errors, metrics and logs. Nothing it stores or logs contains a receiver's
URL, headers or secret. A ``DirectNotifier`` (e-mail) sends by itself and
judges its own failures; the worker wraps the same stages around it, less
signing.

TLS certificates are always verified (httpx's default; nothing here turns it
off) and redirects are never followed: a 3xx is a permanent failure.

``run_forever`` sends on one thread per receiver, a *lane*, so a receiver that
hangs holds only its own lane until the timeout: the others go on. A lane
claims only its receivers' messages (``ReceiverScope``) and sends them one
after another; the outbox keeps each alert group in order. With more
receivers than ``max_lanes`` (8 by default), lanes take several receivers
each, dealt out in name order. Any lane takes the messages of receivers no
longer configured (they are dead-lettered without a request). A worker thus
runs at most ``max_lanes`` sending threads, each holding at most one request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.delivery.backoff import parse_retry_after, retry_delay
from monitor.delivery.egress import EgressPolicy, EgressRefused
from monitor.delivery.ratelimit import RateLimiter
from monitor.delivery.signing import SigningKeyError, sign_request
from monitor.logs import log_context
from monitor.metrics import Metrics
from monitor.notifiers.auth import AuthenticationError, authenticator_of
from monitor.notifiers.base import (
    AnyNotifier,
    DeliveryFailed,
    DirectNotifier,
    Notifier,
    OutboundMessage,
    Verdict,
)
from monitor.secrets import SecretError, resolve_secret
from monitor.service_settings import DeliverySettings
from monitor.settings_base import http_url_problem
from monitor.store.models import utcnow
from monitor.store.outbox import (
    AttemptRecord,
    ClaimedMessage,
    Outcome,
    ReceiverScope,
    claim_due,
    defer,
    record_attempt,
)

logger = logging.getLogger("driftwarden.delivery")

_MAX_ERROR_CHARS = 300

MAX_LANES = 8
"""Sending threads per worker by default: one per receiver, up to this many."""


def plan_lanes(receivers: Collection[str], max_lanes: int) -> list[ReceiverScope]:
    """Receivers dealt out in name order to at most ``max_lanes`` lanes; every lane also
    takes messages for receivers outside ``receivers``, so a hung lane holds none of them.

    >>> [sorted(lane.names) for lane in plan_lanes(["pd", "slack", "ci", "hook"], 3)]
    [['ci', 'slack'], ['hook'], ['pd']]
    """
    if max_lanes < 1:
        raise ValueError(f"max_lanes must be at least 1, got {max_lanes}")
    names = sorted(receivers)
    count = max(1, min(len(names), max_lanes))
    known = frozenset(names)
    return [ReceiverScope(frozenset(names[index::count]), known) for index in range(count)]


def describe_transport_error(exc: httpx.HTTPError, request: httpx.Request) -> str:
    """``ClassName: reason`` with the request's URL and each of its parts removed."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    url = request.url
    parts = {str(url), url.host, url.netloc.decode("ascii", "replace")}
    parts |= {
        url.raw_path.decode("ascii", "replace"),
        url.path,
        url.query.decode("ascii", "replace"),
    }
    parts |= {url.userinfo.decode("ascii", "replace"), url.fragment}
    for part in sorted((p for p in parts if len(p) > 1), key=len, reverse=True):
        reason = reason.replace(part, "<url>")
    text = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


def describe_response(response: httpx.Response) -> str:
    """``HTTP 400 Bad Request``. The body is not kept: receivers may echo our headers."""
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


class _Failed(Exception):
    """An attempt that produced no response; ``error`` is safe to store and log."""

    def __init__(self, error: str, permanent: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent


def _outbound(message: ClaimedMessage) -> OutboundMessage:
    """The claimed row as a notifier sees it, on its next attempt."""
    return OutboundMessage(
        message_id=message.message_id,
        event_type=message.event_type,
        payload=message.payload,
        created_at=message.created_at,
        attempt=message.attempts + 1,
    )


def _log_fields(message: ClaimedMessage) -> dict[str, object]:
    """What the log lines of one delivery are about: the message, and the run that queued it."""
    payload = message.payload
    run = payload.get("run")
    run_id = run.get("id") if isinstance(run, dict) else payload.get("run_id")
    return {
        "receiver": message.receiver,
        "message_id": message.message_id,
        "monitor": payload.get("monitor"),
        "run_id": run_id,
    }


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        notifiers: Mapping[str, AnyNotifier],
        secrets: Mapping[str, str | None],
        settings: DeliverySettings,
        metrics: Metrics,
        worker_id: str,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        batch_size: int = 1,
        limiter: RateLimiter | None = None,
        egress: EgressPolicy | None = None,
        max_lanes: int = MAX_LANES,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.lanes = plan_lanes(notifiers, max_lanes)
        self.engine = engine
        self.notifiers = notifiers
        self.secrets = secrets
        self.settings = settings
        self.metrics = metrics
        self.worker_id = worker_id
        self._owns_client = client is None
        self.client = client if client is not None else httpx.Client(follow_redirects=False)
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.batch_size = batch_size
        self.limiter = limiter if limiter is not None else RateLimiter({})
        self.egress = egress if egress is not None else EgressPolicy(settings.allow_hosts)
        # Messages of one batch are sent one after another, so the claim must
        # outlast the whole batch, or another worker would re-send its tail. The
        # default batch of one keeps the lease short: a message claimed by a
        # worker that then died is picked up again soon.
        # httpx applies the timeout to connect, write, read and pool separately,
        # so one request may take up to four times it.
        self.lease = settings.timeout * 4 * batch_size + settings.poll_interval

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def run_once(self, receivers: ReceiverScope | None = None) -> int:
        """Claim due messages (of ``receivers``, or any) and attempt each once, in this thread;
        returns how many were attempted."""
        claimed = claim_due(
            self.engine,
            self.worker_id,
            self.clock(),
            self.lease,
            self.batch_size,
            exclude_receivers=self.limiter.throttled(),
            receivers=receivers,
        )
        for message in claimed:
            with log_context(**_log_fields(message)):
                self._deliver(message)
        return len(claimed)

    def run_forever(self, stop: threading.Event) -> None:
        """Send on every lane until ``stop`` is set; returns once each lane has finished.

        A lane stops after its request in flight, which a hung receiver may
        hold until the timeout; the lanes are daemon threads, so a process
        that stops does not wait for them.
        """
        threads = [
            threading.Thread(
                target=self._run_lane, args=(lane, stop), name=f"delivery-{index}", daemon=True
            )
            for index, lane in enumerate(self.lanes)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _run_lane(self, lane: ReceiverScope, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; waits ``poll_interval`` only after an empty poll."""
        interval = self.settings.poll_interval.total_seconds()
        while not stop.is_set():
            try:
                attempted = self.run_once(lane)
            except SQLAlchemyError as exc:
                logger.error(
                    "store unavailable (%s); retrying delivery in %.1fs",
                    type(exc).__name__,
                    interval,
                )
                attempted = 0
            except Exception:
                logger.exception("delivery poll failed; retrying in %.1fs", interval)
                attempted = 0
            if attempted == 0:
                stop.wait(interval)

    def _deliver(self, message: ClaimedMessage) -> None:
        attempted_at = self.clock()
        started = time.perf_counter()
        notifier = self.notifiers.get(message.receiver)
        if notifier is None:
            error = f'receiver "{message.receiver}" is not configured (removed from the config?)'
            self._finish(message, attempted_at, started, "dead", None, error)
            return
        wait = self.limiter.take(message.receiver)
        if wait > 0:
            self._defer(message, attempted_at + timedelta(seconds=wait))
            return
        try:
            if isinstance(notifier, DirectNotifier):
                self._send_direct(notifier, message)
                self._finish(message, attempted_at, started, "delivered", None, None)
                return
            response = self._send(notifier, message, attempted_at)
        except _Failed as failure:
            if failure.permanent:
                self._finish(message, attempted_at, started, "dead", None, failure.error)
            else:
                self._retry_or_die(message, attempted_at, started, None, failure.error, None)
            return
        if response is None:  # the notifier had nothing to send (Notifier.build_request)
            self._finish(message, attempted_at, started, "delivered", None, None)
            return
        verdict = notifier.classify(response)
        if verdict is Verdict.DELIVERED:
            self._finish(message, attempted_at, started, "delivered", response.status_code, None)
        elif verdict is Verdict.PERMANENT:
            error = describe_response(response)
            self._finish(message, attempted_at, started, "dead", response.status_code, error)
        else:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self.clock())
            error = describe_response(response)
            self._retry_or_die(
                message, attempted_at, started, response.status_code, error, retry_after
            )

    def _send(
        self, notifier: Notifier, message: ClaimedMessage, attempted_at: datetime
    ) -> httpx.Response | None:
        try:
            request = notifier.build_request(_outbound(message))
            if request is None:
                return None
            # The authentication stage (monitor.notifiers.auth): SigV4, OAuth2 tokens.
            authenticator = authenticator_of(notifier)
            if authenticator is not None:
                request = authenticator.authenticate(request, attempted_at)
            secret = self._signing_secret(message.receiver)
            sign_request(request, message.message_id, int(attempted_at.timestamp()), secret)
        except (SecretError, SigningKeyError, AuthenticationError) as exc:
            # These messages name the variable or the problem, never the value.
            raise _Failed(f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]) from None
        except httpx.InvalidURL:
            # Its message quotes the URL; a URL that cannot be parsed never will be.
            raise _Failed(
                "InvalidURL: the receiver's URL cannot be parsed", permanent=True
            ) from None
        except Exception as exc:
            # Anything else raised while building may quote the URL or a header
            # value, so only the class name is kept.
            raise _Failed(f"{type(exc).__name__} while building the request") from None
        # A URL from the environment (url_env) is first seen here; config checked the others.
        problem = http_url_problem(str(request.url))
        if problem is not None:
            raise _Failed(f"the receiver's URL cannot be sent to: {problem}", permanent=True)
        self._check_egress(request.url.host)
        timeout = httpx.Timeout(self.settings.timeout.total_seconds())
        request.extensions = {**request.extensions, "timeout": timeout.as_dict()}
        try:
            return self.client.send(request)
        except httpx.HTTPError as exc:
            raise _Failed(describe_transport_error(exc, request)) from None

    def _send_direct(self, notifier: DirectNotifier, message: ClaimedMessage) -> None:
        """The egress check of the notifier's host, then its own delivery within the timeout."""
        self._check_egress(notifier.host)
        try:
            notifier.deliver(_outbound(message), self.settings.timeout.total_seconds())
        except DeliveryFailed as failure:
            raise _Failed(failure.error[:_MAX_ERROR_CHARS], failure.permanent) from None
        except SecretError as exc:
            raise _Failed(f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]) from None
        except Exception as exc:
            # As for a request being built: the text may quote a secret, so only the class.
            raise _Failed(f"{type(exc).__name__} while sending") from None

    def _check_egress(self, host: str) -> None:
        try:
            self.egress.check_host(host)
        except EgressRefused as exc:
            raise _Failed(
                f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS], permanent=True
            ) from None

    def _signing_secret(self, receiver: str) -> str | None:
        env_name = self.secrets.get(receiver)
        if env_name is None:
            return None
        return resolve_secret(env_name, f'receiver "{receiver}" secret_env')

    def _retry_or_die(
        self,
        message: ClaimedMessage,
        attempted_at: datetime,
        started: float,
        status_code: int | None,
        error: str,
        retry_after: timedelta | None,
    ) -> None:
        now = self.clock()
        deadline = message.age_counted_from + self.settings.max_age
        if now > deadline:
            error = f"{error}; gave up: older than max_age ({self.settings.max_age})"
            self._finish(message, attempted_at, started, "dead", status_code, error)
            return
        delay = retry_delay(
            message.attempts + 1,
            self.settings.backoff_initial,
            self.settings.backoff_max,
            self.rng,
            retry_after,
        )
        if retry_after is not None and now + retry_after > deadline:
            # We may not come back before Retry-After, and by then the message is too old.
            error = f"{error}; gave up: Retry-After ({retry_after}) is beyond max_age"
            self._finish(message, attempted_at, started, "dead", status_code, error)
            return
        self._finish(message, attempted_at, started, "retry", status_code, error, now + delay)

    def _defer(self, message: ClaimedMessage, until: datetime) -> None:
        """Rate-limited: back to pending unattempted (see ``monitor.delivery.ratelimit``)."""
        held = defer(self.engine, message, self.worker_id, until)
        self.metrics.record_deferral(message.receiver)
        logger.debug(
            "message %s to %s deferred to %s by the receiver's rate limit%s",
            message.message_id,
            message.receiver,
            until.isoformat(),
            "" if held else " (its claim had expired)",
        )

    def _finish(
        self,
        message: ClaimedMessage,
        attempted_at: datetime,
        started: float,
        outcome: Outcome,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        record = AttemptRecord(outcome, status_code, error, duration_ms, next_attempt_at)
        held = record_attempt(self.engine, message, self.worker_id, attempted_at, record)
        attempt = message.attempts + 1
        self.metrics.record_delivery(message.receiver, outcome, duration_ms / 1000, attempt)
        if not held:
            logger.warning(
                "message %s to %s: attempt %d finished (%s) after its claim expired; "
                "its current holder decides",
                message.message_id,
                message.receiver,
                attempt,
                outcome,
            )
        elif outcome == "delivered":
            logger.info(
                "message %s delivered to %s (attempt %d, HTTP %s)",
                message.message_id,
                message.receiver,
                attempt,
                status_code,
            )
        elif outcome == "retry":
            logger.warning(
                "message %s to %s failed (attempt %d): %s; next attempt at %s",
                message.message_id,
                message.receiver,
                attempt,
                error,
                next_attempt_at.isoformat() if next_attempt_at else "?",
            )
        else:
            logger.error(
                "message %s to %s is dead (attempt %d): %s",
                message.message_id,
                message.receiver,
                attempt,
                error,
            )
