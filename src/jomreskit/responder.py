"""The simulation webhook responder: the remote side of the case study.

It plays a channel manager's gateway. For each notification it receives it checks the
credentials the site's auth method added (none, HTTP Basic, or a bearer token it issued itself
at ``POST /oauth/token``), verifies the Standard Webhooks signature, takes an OAuth2
client-credentials token from the site's API (cached until it expires), calls the
notification's ``callback_url`` and logs every step as one structured line: to the console, to
a JSON-lines file and, when asked, to syslog (RFC 5424 over UDP).

It talks to the site over HTTP only, exactly as a service written for Jomres would; of
jomreskit it uses only the core's errors and its OAuth 2.0 client (Authlib's).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hmac
import json
import logging
import logging.handlers
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from flask import Flask, Response, jsonify, request
from standardwebhooks import Webhook, WebhookVerificationError

from .core.authmethods import AuthMethodError, client_credentials_token
from .core.errors import JomresKitError, ValidationError

SECRET_PREFIX = "whsec_"
SHORTEST_KEY, LONGEST_KEY = 24, 64  # bytes of a signing secret, as Standard Webhooks says
# Standard Webhooks: refuse a timestamp further than five minutes from now (replays, stale
# copies); the reference library that checks the signature holds the same limit.
TIMESTAMP_TOLERANCE = 300
APP_NAME = "jomreskit-responder"
USER_AGENT = "jomreskit-responder"
TIMEOUT = (5, 30)  # connect, read (seconds) for calls to the site's API
TOKEN_MARGIN = 30  # renew a token this many seconds before it expires
ISSUED_TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class ResponderConfig:
    """What the remote service knows: the site's API, its API key and the webhook's secret.

    ``username``/``password`` are what the site must present: as HTTP Basic (auth method
    ``basic``), or as client credentials at the responder's own ``/oauth/token`` in exchange
    for a bearer token (auth method ``oauth``). Without them any caller is accepted (``none``).
    """

    api_url: str
    client_id: str
    client_secret: str
    signing_secret: str
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"--api-url {self.api_url!r} is not an http(s) URL; give the "
                                  "site's API root, like http://127.0.0.1:8000/api")
        if self.signing_secret:  # none when following the event feed instead of webhooks
            signing_key(self.signing_secret)  # refuse a malformed secret at start-up
        if bool(self.username) != bool(self.password):
            raise ValidationError("give both --username and --password, or neither")


# -- signatures ------------------------------------------------------------------------------


class SignatureError(Exception):
    """The notification's Standard Webhooks headers are missing, stale or do not match."""


def signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` signing secret (Standard Webhooks: 24 to 64 bytes;
    a secret that is not one is a copy-paste slip, refused at start-up rather than failing
    every notification)."""
    malformed = ValidationError(
        "the signing secret must be the whsec_... secret `jomreskit webhooks create` printed "
        f"(whsec_ then base64 of {SHORTEST_KEY} to {LONGEST_KEY} bytes)")
    if not secret.startswith(SECRET_PREFIX):
        raise malformed
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise malformed from None
    if not SHORTEST_KEY <= len(key) <= LONGEST_KEY:
        raise malformed
    return key


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes) -> str:
    """Check a notification as the Standard Webhooks spec says; return its ``webhook-id``.

    The signature is checked by the spec's reference library; the headers and the timestamp
    are looked at first only to say what is wrong: raises SignatureError naming a missing
    header, a timestamp more than ``TIMESTAMP_TOLERANCE`` seconds from now, or no ``v1``
    signature that matches.
    """
    webhook_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    missing = [name for name, value in (("webhook-id", webhook_id),
                                        ("webhook-timestamp", stamp),
                                        ("webhook-signature", signatures)) if not value]
    if missing:
        raise SignatureError(f"missing header {', '.join(missing)}")
    assert webhook_id and stamp and signatures
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError(f"webhook-timestamp {stamp!r} is not a Unix time") from None
    away = int(time.time() - timestamp)
    if abs(away) > TIMESTAMP_TOLERANCE:
        raise SignatureError(
            f"webhook-timestamp is {away} s away from now (allowed: {TIMESTAMP_TOLERANCE} s)"
        )
    try:
        # The header may list several space-separated signatures (during a secret rotation).
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError):
        raise SignatureError(
            "no v1 signature matches the body (wrong secret, or altered in transit)"
        ) from None
    return webhook_id


# -- the log ---------------------------------------------------------------------------------


class StepLog:
    """One structured record per step, to the console, a JSON-lines file and syslog.

    Each record is a dict: ``time``, ``step``, ``ok``, ``message`` and the step's fields.
    Listeners (callables taking the record) see every record too; `jomreskit demo` follows
    the story that way.
    """

    def __init__(
        self,
        console: Any = None,
        path: str | os.PathLike[str] | None = None,
        syslog: tuple[str, int] | None = None,
    ) -> None:
        # A logger of its own, outside the logging tree: two responders never share handlers.
        self.logger = logging.Logger(APP_NAME, logging.INFO)
        if console is not None:
            handler = logging.StreamHandler(console)
            handler.setFormatter(ConsoleFormatter())
            self.logger.addHandler(handler)
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(self.path, encoding="utf-8")
            handler.setFormatter(JsonLinesFormatter())
            self.logger.addHandler(handler)
        self.syslog = syslog
        if syslog:
            handler = logging.handlers.SysLogHandler(address=syslog, socktype=socket.SOCK_DGRAM)
            handler.append_nul = False
            handler.setFormatter(Rfc5424Formatter())
            self.logger.addHandler(handler)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def step(self, step: str, ok: bool, message: str, **fields: Any) -> dict[str, Any]:
        """Record one step; returns the record."""
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "step": step, "ok": ok, "message": message, **fields}
        self.logger.log(logging.INFO if ok else logging.WARNING, message,
                        extra={"responder": record})
        for listener in list(self.listeners):
            listener(record)
        return record

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            handler.close()
            self.logger.removeHandler(handler)


def _details(record: Mapping[str, Any]) -> str:
    skip = {"time", "step", "ok", "message"}
    return json.dumps({k: v for k, v in record.items() if k not in skip}, default=str)


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS responder <step> ok|FAILED <message> {fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        step = record.responder  # type: ignore[attr-defined]
        clock = step["time"][11:19]
        verdict = "ok" if step["ok"] else "FAILED"
        return (f"{clock} responder {step['step']:<11} {verdict:<6} {step['message']} "
                f"{_details(step)}")


class JsonLinesFormatter(logging.Formatter):
    """The record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.responder, default=str)  # type: ignore[attr-defined]


class Rfc5424Formatter(logging.Formatter):
    """An RFC 5424 syslog message after the ``<PRI>`` the SysLogHandler puts in front.

    ``1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG``: the step is the MSGID, so a syslog
    viewer can filter on it; the message is the step's text followed by its JSON record.
    """

    hostname = socket.gethostname() or "-"

    def format(self, record: logging.LogRecord) -> str:
        step = record.responder  # type: ignore[attr-defined]
        stamp = step["time"].replace("+00:00", "Z")
        return (f"1 {stamp} {self.hostname} {APP_NAME} {os.getpid()} {step['step']} - "
                f"{step['message']} {json.dumps(step, default=str)}")


# -- OAuth2 ----------------------------------------------------------------------------------


class TokenClient:
    """An OAuth2 client-credentials token from the site's API, cached until it expires."""

    def __init__(self, token_url: str, client_id: str, client_secret: str,
                 http: requests.Session) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> tuple[str, bool, int]:
        """(access token, taken just now?, seconds it is still valid); raises TokenError."""
        with self._lock:
            now = time.monotonic()
            if self._token and now < self._expires_at:
                return self._token, False, int(self._expires_at - now)
            try:
                token, lifetime = client_credentials_token(
                    self.http, self.token_url, self.client_id, self.client_secret,
                    timeout=TIMEOUT)
            except requests.RequestException as exc:
                raise TokenError(f"cannot reach {self.token_url}: {exc}") from None
            except AuthMethodError as exc:
                raise TokenError(exc.message) from None
            self._token = token
            self._expires_at = now + max(lifetime - min(TOKEN_MARGIN, lifetime // 2), 1)
            return self._token, True, int(lifetime)

    def forget(self) -> None:
        """Drop the cached token (the API refused it)."""
        with self._lock:
            self._token = None


class TokenError(Exception):
    """No token: the API could not be reached, or refused the key."""


class IssuedTokens:
    """Bearer tokens the responder hands the site at ``/oauth/token`` (auth method oauth)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
            self._expiry[token] = now + ISSUED_TOKEN_LIFETIME
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            return self._expiry.get(token, 0) > time.monotonic()


# -- the web service -------------------------------------------------------------------------


def make_app(config: ResponderConfig, log: StepLog) -> Flask:
    """The responder as a Flask app: ``POST /`` takes notifications, ``POST /oauth/token``
    issues the bearer tokens the ``oauth`` auth method asks for."""
    app = Flask(APP_NAME)
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    api_url = config.api_url.rstrip("/")
    tokens = TokenClient(f"{api_url}/oauth/token", config.client_id, config.client_secret, http)
    issued = IssuedTokens()

    def error(status: int, code: str, message: str, **headers: str) -> Response:
        response = jsonify({"error": {"code": code, "message": message}})
        response.status_code = status
        response.headers.update(headers)
        return response

    def client_credentials(form_encoded: bool = False) -> tuple[str, str] | None:
        """The caller's credentials, from HTTP Basic or, failing that, the form body.

        At a token endpoint Basic credentials are form-urlencoded first (RFC 6749, 2.3.1).
        """
        if request.authorization and request.authorization.type == "basic":
            pair = (request.authorization.username or "", request.authorization.password or "")
            return (unquote(pair[0]), unquote(pair[1])) if form_encoded else pair
        if "client_id" in request.form:
            return (request.form["client_id"], request.form.get("client_secret", ""))
        return None

    def expected(pair: tuple[str, str] | None) -> bool:
        assert config.username and config.password
        return pair is not None and all(
            hmac.compare_digest(given.encode(), wanted.encode())
            for given, wanted in zip(pair, (config.username, config.password), strict=True)
        )

    @app.get("/")
    def status() -> Response:
        return jsonify({"service": APP_NAME, "api_url": api_url,
                        "log": str(log.path) if log.path else None})

    @app.post("/oauth/token")
    def issue_token() -> Response:
        if not (config.username and config.password):
            return error(404, "not_found", "start the responder with --username and --password "
                                           "to let the site take tokens here")
        if request.form.get("grant_type") != "client_credentials":
            return error(400, "unsupported_grant_type", "only client_credentials is supported")
        if not expected(client_credentials(form_encoded=True)):
            log.step("issue_token", False, "refused a token: wrong client credentials")
            return error(401, "invalid_client", "wrong client credentials",
                         **{"WWW-Authenticate": 'Basic realm="jomreskit-responder"'})
        token = issued.issue()
        log.step("issue_token", True, "issued a bearer token to the site",
                 expires_in=ISSUED_TOKEN_LIFETIME)
        return jsonify({"access_token": token, "token_type": "Bearer",
                        "expires_in": ISSUED_TOKEN_LIFETIME})

    @app.post("/")
    def notification() -> Response:
        body = request.get_data()
        webhook_id = request.headers.get("webhook-id")
        notice = _json_or_none(body)
        log.step("received", True, f"received {_describe(notice)}", webhook_id=webhook_id,
                 headers=_shown_headers(request.headers),
                 body=notice if notice is not None else body[:500].decode("utf-8", "replace"))

        if config.username:
            authorization = request.authorization
            if authorization is not None and authorization.type == "bearer":
                accepted, how = issued.valid(authorization.token or ""), "bearer token"
            else:
                accepted, how = expected(client_credentials()), "HTTP Basic credentials"
            if not accepted:
                given = authorization.type if authorization else "no credentials"
                log.step("credentials", False, f"rejected: {given} do not match",
                         webhook_id=webhook_id)
                return error(401, "invalid_credentials", "wrong or missing credentials",
                             **{"WWW-Authenticate": 'Basic realm="jomreskit-responder"'})
            log.step("credentials", True, f"{how} accepted", webhook_id=webhook_id)

        try:
            verify_signature(config.signing_secret, request.headers, body)
        except SignatureError as exc:
            log.step("signature", False, f"rejected: {exc}", webhook_id=webhook_id)
            return error(401, "invalid_signature", str(exc))
        log.step("signature", True, "signature verified (Standard Webhooks v1, HMAC-SHA256)",
                 webhook_id=webhook_id)

        if not isinstance(notice, dict):
            return error(400, "invalid_body", "the body is not a JSON object")
        callback_url = notice.get("callback_url")
        if not callback_url:
            log.step("callback", True, "no callback_url in the notification: nothing to fetch",
                     webhook_id=webhook_id)
            return jsonify({"received": webhook_id})
        # The bearer token is for our API only: never send it to another address.
        if not str(callback_url).startswith(api_url + "/"):
            log.step("callback", False, f"callback_url is not under {api_url}; not calling it",
                     webhook_id=webhook_id, callback_url=callback_url)
            return jsonify({"received": webhook_id})
        return fetch(str(callback_url), str(webhook_id))

    def fetch(callback_url: str, webhook_id: str) -> Response:
        status, failure = fetch_record(http, tokens, log, callback_url, webhook_id=webhook_id)
        if failure == "token_failed":
            return error(503, "token_failed", "cannot take a token from the API; retry later")
        if failure == "callback_failed":
            return error(503, "callback_failed", "cannot reach the API; retry later")
        if (status or 0) >= 500:
            return error(503, "callback_failed", "the API failed; retry later")
        return jsonify({"received": webhook_id, "callback_status": status})

    return app


def fetch_record(http: requests.Session, tokens: TokenClient, log: StepLog, callback_url: str,
                 **ref: Any) -> tuple[int | None, str | None]:
    """GET ``callback_url`` with a token (a new one once, after a 401), logging each step with
    ``ref`` (which notification or event it is for).

    Returns (the API's status, None), or (None, "token_failed" or "callback_failed").
    """
    for attempt in (1, 2):
        try:
            token, fresh, lifetime = tokens.token()
        except TokenError as exc:
            log.step("token", False, f"no token: {exc}", **ref)
            return None, "token_failed"
        how = f"took a new token from {tokens.token_url}" if fresh else "reused the cached token"
        log.step("token", True, how, expires_in=lifetime, **ref)
        try:
            answer = http.get(callback_url, headers={"Authorization": f"Bearer {token}"},
                              timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            log.step("callback", False, f"GET {callback_url} failed: {exc}",
                     callback_url=callback_url, **ref)
            return None, "callback_failed"
        if answer.status_code == 401 and attempt == 1:
            tokens.forget()  # revoked or expired early: one more try with a new token
            continue
        break
    document = _json_or_none(answer)
    ok = 200 <= answer.status_code < 300
    log.step("callback", ok, f"GET {callback_url} answered {answer.status_code}",
             callback_url=callback_url, status=answer.status_code,
             answer=document if document is not None else _excerpt(answer), **ref)
    return answer.status_code, None


# -- following the event feed ------------------------------------------------------------------

FOLLOW_WAIT = 30  # seconds each GET /events may wait for an event
FOLLOW_RETRY = 5  # seconds before asking again after a failure


class FeedRefused(JomresKitError):
    """The site will not give this key its event feed whatever the retries: the key lacks
    the scope, or the site has no feed. Waiting would not help; the follower stops."""


def follow(config: ResponderConfig, log: StepLog, stop: threading.Event | None = None,
           wait: int = FOLLOW_WAIT) -> None:
    """Read the site's event feed instead of receiving webhooks, until ``stop`` is set.

    Starts from the key's acknowledged cursor, so a restart resumes where it left off; logs
    each event, fetches its callback_url as for a notification, and acknowledges each page
    once its events are handled. A site that cannot be reached or fails is asked again; one
    that refuses the key the feed (403: a missing scope; 404: no feed) raises FeedRefused.
    """
    stop = stop or threading.Event()
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    api_url = config.api_url.rstrip("/")
    tokens = TokenClient(f"{api_url}/oauth/token", config.client_id, config.client_secret, http)
    after = "acknowledged"
    while not stop.is_set():
        try:
            token = tokens.token()[0]
            answer = http.get(f"{api_url}/events", params={"after": after, "wait": wait},
                              headers={"Authorization": f"Bearer {token}"},
                              timeout=(TIMEOUT[0], wait + TIMEOUT[1]), allow_redirects=False)
        except (TokenError, requests.RequestException) as exc:
            log.step("feed", False, f"cannot read the event feed: {exc}")
            stop.wait(FOLLOW_RETRY)
            continue
        page = _json_or_none(answer)
        if answer.status_code == 401:
            tokens.forget()
            continue
        if answer.status_code == 410:
            oldest = answer.headers.get("X-Oldest-Cursor", "")
            log.step("feed", False, f"missed events older than the retention; reading on from "
                                    f"{oldest}", status=410)
            after = oldest or after
            continue
        if answer.status_code in (403, 404):
            refused = _feed_refused(answer.status_code, page, api_url, config.client_id)
            log.step("feed", False, refused.message, status=answer.status_code)
            raise refused
        if answer.status_code != 200 or not isinstance(page, dict):
            log.step("feed", False, f"GET {api_url}/events answered {answer.status_code}: "
                                    f"{_excerpt(answer)}", status=answer.status_code)
            stop.wait(FOLLOW_RETRY)
            continue
        for event in page["data"]:
            ref = {"event_id": event["id"]}
            log.step("received", True, f"read {event['type']} from the feed", body=event, **ref)
            callback_url = str(event.get("callback_url") or "")
            # The bearer token is for our API only: never send it to another address.
            if callback_url.startswith(api_url + "/"):
                fetch_record(http, tokens, log, callback_url, **ref)
        after = page["meta"]["next"]
        if page["data"]:
            _acknowledge(http, tokens, log, api_url, after, len(page["data"]))


def _feed_refused(status: int, page: Any, api_url: str, client_id: str) -> FeedRefused:
    error = (page or {}).get("error") if isinstance(page, dict) else None
    error = error if isinstance(error, dict) else {}
    if status == 403 and error.get("code") == "insufficient_scope":
        return FeedRefused(
            f"the API key {client_id} lacks the scope events_get that GET {api_url}/events "
            "needs: give the key that scope (`jomreskit keys create ... --scope events_get "
            "--scope webhooks_get`, or tick it on the console's App Key Management page)",
            code="insufficient_scope")
    if status == 404:
        return FeedRefused(
            f"{api_url}/events answered 404: the site has no event feed (its plugin "
            "api_feature_events is not installed or not enabled), or --api-url is not its API "
            "root", code="not_found")
    return FeedRefused(f"GET {api_url}/events answered {status}: "
                       f"{error.get('message') or 'refused'}", code=str(error.get("code")))


def _acknowledge(http: requests.Session, tokens: TokenClient, log: StepLog, api_url: str,
                 cursor: str, count: int) -> None:
    try:
        answer = http.put(f"{api_url}/events/cursor", json={"cursor": cursor},
                          headers={"Authorization": f"Bearer {tokens.token()[0]}"},
                          timeout=TIMEOUT, allow_redirects=False)
    except (TokenError, requests.RequestException) as exc:
        # Not fatal: the events are read again after a restart, never lost.
        log.step("acknowledged", False, f"cannot acknowledge the cursor: {exc}", cursor=cursor)
        return
    log.step("acknowledged", answer.status_code == 200, f"acknowledged {count} events",
             cursor=cursor, status=answer.status_code)


def _json_or_none(source: requests.Response | bytes) -> Any:
    try:
        if isinstance(source, requests.Response):
            return source.json()
        return json.loads(source)
    except ValueError:
        return None


def _excerpt(response: requests.Response) -> str:
    return response.text[:300]


def _shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth logging; of Authorization only the scheme, never the credentials."""
    shown = {name: headers[name] for name in ("webhook-id", "webhook-timestamp",
                                              "webhook-signature", "User-Agent")
             if name in headers}
    if "webhook-signature" in shown and len(shown["webhook-signature"]) > 20:
        shown["webhook-signature"] = shown["webhook-signature"][:16] + "..."
    if "Authorization" in headers:
        shown["Authorization"] = headers["Authorization"].split(" ", 1)[0] + " ..."
    return shown


def _describe(notice: Any) -> str:
    if not isinstance(notice, dict):
        return "a notification whose body is not JSON"
    data = notice.get("data") if isinstance(notice.get("data"), dict) else {}
    ids = " ".join(f"{k}={v}" for k, v in data.items() if k != "task")
    return f"{notice.get('type', 'an untyped notification')} {ids}".rstrip()


def parse_syslog_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, port 514) as an address for the syslog handler."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, "514"
    if not host or not port.isdigit():
        raise ValidationError(f"--syslog {value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def run(config: ResponderConfig, host: str, port: int, log: StepLog,
        announce: Callable[[str], Any] = print) -> None:
    """Serve the responder until interrupted (waitress, as `jomreskit serve` does)."""
    import waitress

    try:  # bind before announcing anything, so a taken port is the one thing said
        server = waitress.create_server(make_app(config, log), host=host, port=port, threads=8)
    except OSError as exc:
        log.close()
        reason = (f"port {port} is already in use" if exc.errno == errno.EADDRINUSE
                  else exc.strerror or str(exc))
        raise JomresKitError(f"the responder cannot listen on {host}:{port}: {reason}") from None
    announce(f"responder listening on http://{host}:{server.effective_port}/ "  # type: ignore[union-attr]
             f"(API {config.api_url}; Ctrl-C to stop)")
    if log.path:
        announce(f"logging to the console and to {log.path}"
                 + (f", and to syslog at {log.syslog[0]}:{log.syslog[1]}" if log.syslog else ""))
    try:
        server.run()
    finally:
        server.close()
        log.close()


def console_log(path: str | os.PathLike[str] | None = None,
                syslog: tuple[str, int] | None = None) -> StepLog:
    """The usual StepLog: console (stdout) plus the given file and syslog."""
    return StepLog(console=sys.stdout, path=path, syslog=syslog)
