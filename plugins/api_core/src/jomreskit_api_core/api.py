"""The object plugins register REST API routes on, and what their views use while answering.

A plugin implements ``register_api_routes(api)`` and adds routes with ``@api.route``. Each route
declares its methods, the scope its token needs (or ``public=True``), and its parameters; api_core
checks the token, the scope and the rate limit, parses the declared query parameters, wraps what
the view returns in the success envelope and turns every error into the error envelope. A write
(POST, PUT, PATCH, DELETE with a token) runs in one transaction, with its Idempotency-Key, and
marks the events it fires with the writing key's client id.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, request
from flask.sessions import SessionInterface
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter, Rule

from jomreskit import (
    Conflict,
    JomresKitError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from jomreskit.db import autocommit_options
from jomreskit.domain import User, services

from . import errors, responses
from .conditional import etag_of
from .errors import ApiError
from .idempotency import answer as stored_answer
from .idempotency import fingerprint as request_fingerprint
from .idempotency import keeps as answer_is_kept
from .models import ApiKey, TokenGrant
from .observe import UNMATCHED, Observer

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.api")

EXTENSION = "jomreskit_api_core"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PARAM_TYPES = ("string", "integer", "number", "boolean", "array")
PARAM_LOCATIONS = ("query", "path", "header")
MAX_ID = 2**31 - 1  # ids are 32-bit: a larger one in a path names nothing
MAX_INTEGER = 2**63 - 1  # what databases can compare against

# <converter(args):name> or <name>, as Flask rules write path parameters.
RULE_PARAMETER = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?"
                            r"(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")  # one a proxy set, if it is safe to log
CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
    "any": {"type": "string"},
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
}


@dataclass(frozen=True)
class Param:
    """A parameter of a route, for the OpenAPI document and (in the query) for validation.

    Query parameters are parsed before the view runs: a value that does not fit answers 422
    with the code ``invalid_<name>``; the view reads the parsed values with ``current_params()``.
    ``type="array"`` takes repeated (``?f=a&f=b``) or comma-separated (``?f=a,b``) values.
    """

    name: str
    in_: str = "query"
    type: str = "string"
    description: str = ""
    required: bool = False
    enum: Sequence[Any] | None = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = None  # "date", "date-time"... for strings
    items: str = "string"  # the item type of an array
    example: Any = None  # a value that works, for the OpenAPI document and route-walking tests

    def __post_init__(self) -> None:
        if self.in_ not in PARAM_LOCATIONS:
            raise ValueError(f"Param {self.name!r}: in_ must be one of {PARAM_LOCATIONS}")
        if self.type not in PARAM_TYPES:
            raise ValueError(f"Param {self.name!r}: type must be one of {PARAM_TYPES}")

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema."""
        if self.type == "array":
            schema: dict[str, Any] = {"type": "array", "items": {"type": self.items}}
            if self.enum is not None:
                schema["items"]["enum"] = list(self.enum)
        else:
            schema = {"type": self.type}
            if self.enum is not None:
                schema["enum"] = list(self.enum)
            if self.format:
                schema["format"] = self.format
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def parse(self, values: Sequence[str]) -> Any:
        """The typed value of the raw query ``values``, or ApiError 422 ``invalid_<name>``."""
        if self.type == "array":
            words = [w.strip() for v in values for w in v.split(",") if w.strip()]
            return [self._scalar(w, self.items) for w in words]
        return self._scalar(values[-1], self.type)

    def _scalar(self, raw: str, kind: str) -> Any:
        def bad(why: str) -> ApiError:
            return ApiError(422, f"invalid_{self.name}", f"{self.name}: {why}", field=self.name)

        if "\x00" in raw:
            raise bad("must not contain NUL characters")
        value: Any
        if kind == "integer":
            try:
                value = int(raw.strip())
            except ValueError:
                raise bad(f"{raw[:40]!r} is not a whole number") from None
            if abs(value) > MAX_INTEGER:
                raise bad("is out of range")
        elif kind == "number":
            try:
                value = float(raw.strip())
            except ValueError:
                raise bad(f"{raw[:40]!r} is not a number") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise bad("must be a finite number")
        elif kind == "boolean":
            lowered = raw.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise bad("must be true or false")
            value = lowered in ("true", "1", "yes")
        else:
            value = raw
            if self.format == "date":
                try:
                    value = date.fromisoformat(raw)
                except ValueError:
                    raise bad(f"{raw[:40]!r} is not a date (YYYY-MM-DD)") from None
            elif self.format == "date-time":
                try:
                    value = datetime.fromisoformat(raw)
                except ValueError:
                    raise bad(f"{raw[:40]!r} is not an ISO 8601 date and time") from None
        if self.enum is not None and value not in self.enum:
            raise bad("must be one of " + ", ".join(map(str, self.enum)))
        if self.minimum is not None and isinstance(value, int | float) and value < self.minimum:
            raise bad(f"must be at least {self.minimum:g}")
        if self.maximum is not None and isinstance(value, int | float) and value > self.maximum:
            raise bad(f"must be at most {self.maximum:g}")
        return value


@dataclass
class Route:
    """One registered API operation: a rule (relative to the API prefix) and one method."""

    rule: str
    method: str
    view: Callable[..., Any]
    scope: str | None
    public: bool
    summary: str
    description: str
    params: tuple[Param, ...]
    operation_id: str
    plugin: str
    response: Mapping[str, Any] | None = None
    request_body: Mapping[str, Any] | None = None
    responses: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    security: list[dict[str, list[str]]] | None = None  # OpenAPI override, e.g. client auth
    etag: bool = False  # the success answer carries the ETag of its data
    # Checks of the conformance suite (tests/conformance) that do not apply, each with why:
    # {"access": "a key's own cursor: no other manager's resource to name"}.
    exempt: Mapping[str, str] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        """Whether api_core runs the view as a write: in one transaction, with its
        Idempotency-Key, its events marked with the writing key."""
        return not self.public and self.method in WRITE_METHODS

    def path_params(self) -> list[tuple[str, str]]:
        """(name, converter) of each path parameter, in order."""
        return [(m["name"], m["converter"] or "default")
                for m in RULE_PARAMETER.finditer(self.rule)]


class Api:
    """The REST API of one site: what ``register_api_routes(api)`` receives."""

    def __init__(self, kit: Kit, prefix: str) -> None:
        self.kit = kit
        #: The site's engine as ``request_connection`` connects to it: the same pool, each
        #: statement a transaction of its own.
        self.engine = kit.engine.execution_options(**autocommit_options(kit.engine))
        #: The API's mount point, e.g. "/api" ("" when the API is the whole site).
        self.prefix = "" if prefix == "/" else prefix.rstrip("/")
        self.routes: list[Route] = []
        self.oauth: Any = None  # the OAuth2 server and resource protector (oauth.OAuth)
        self.limiter: Any = None  # the rate limiter (ratelimit.RateLimiter)
        self.idempotency: Any = None  # the Idempotency-Keys (idempotency.Idempotency)
        self._installed = False
        self._operation_ids: set[str] = set()
        self.observer = Observer(kit)  # metrics and spans of every request

    # -- registering -----------------------------------------------------------------------

    def route(
        self,
        rule: str,
        methods: Sequence[str] = ("GET",),
        *,
        scope: str | None = None,
        public: bool = False,
        summary: str = "",
        description: str = "",
        params: Sequence[Param] = (),
        response: Mapping[str, Any] | None = None,
        request_body: Mapping[str, Any] | None = None,
        responses: Mapping[int, Mapping[str, Any]] | None = None,
        tags: Sequence[str] = (),
        name: str | None = None,
        security: Sequence[Mapping[str, Sequence[str]]] | None = None,
        etag: bool = False,
        exempt: Mapping[str, str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated view for ``rule`` (a Flask rule relative to the API prefix).

        ``scope``: the scope a token needs (required unless ``public``). ``params``: its query
        and path parameters. ``response``: the JSON Schema of the ``data`` it returns.
        ``request_body``/``responses``/``security``: OpenAPI objects, for routes that need more
        than that. ``etag``: a success answer carries ``ETag: etag_of(data)`` (see
        ``check_if_match``). ``exempt``: the conformance suite's checks that do not apply to
        this route, each with the reason (``{"access": "why"}``); every other check runs on it.
        The view returns ``data`` or ``(data, meta)``, or a ready ``flask.Response``.
        """

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(rule, view, methods=methods, scope=scope, public=public,
                           summary=summary, description=description, params=params,
                           response=response, request_body=request_body,
                           responses=responses, tags=tags, name=name, security=security,
                           etag=etag, exempt=exempt)
            return view

        return decorator

    def add_route(self, rule: str, view: Callable[..., Any], *, methods: Sequence[str] = ("GET",),
                  scope: str | None = None, public: bool = False, summary: str = "",
                  description: str = "", params: Sequence[Param] = (),
                  response: Mapping[str, Any] | None = None,
                  request_body: Mapping[str, Any] | None = None,
                  responses: Mapping[int, Mapping[str, Any]] | None = None,
                  tags: Sequence[str] = (), name: str | None = None,
                  security: Sequence[Mapping[str, Sequence[str]]] | None = None,
                  etag: bool = False, exempt: Mapping[str, str] | None = None) -> None:
        """``route`` without the decorator."""
        if self._installed:
            raise RuntimeError("API routes are registered in register_api_routes(api), not later")
        if not rule.startswith("/"):
            raise ValueError(f"API rule {rule!r} must start with '/'")
        if not public and not scope:
            raise ValueError(f"API route {rule!r} needs a scope (or public=True)")
        if isinstance(methods, str):
            methods = (methods,)
        for check, reason in (exempt or {}).items():
            if not str(reason).strip():
                raise ValueError(f"API route {rule!r}: exempt from {check!r} without a reason")
        plugin = (getattr(view, "__module__", "") or "").split(".")[0]
        for method in methods:
            method = method.upper()
            if method not in METHODS:
                raise ValueError(f"API route {rule!r}: method {method} is not one of {METHODS}")
            if any(r.rule == rule and r.method == method for r in self.routes):
                log.warning("API route %s %s is registered twice; the first one is kept",
                            method, rule)
                continue
            if scope and scope not in self.kit.scopes:
                log.warning("API route %s %s needs scope %r, which no plugin registers",
                            method, rule, scope)
            self.routes.append(Route(
                rule=rule, method=method, view=view, scope=None if public else scope,
                public=public, summary=summary, description=description or (view.__doc__ or ""),
                params=tuple(params), operation_id=self._operation_id(name or view.__name__,
                                                                     method, len(methods) > 1),
                plugin=plugin, response=response, request_body=request_body,
                responses=dict(responses or {}), tags=tuple(tags),
                security=None if security is None else [
                    {k: list(v) for k, v in s.items()} for s in security],
                etag=etag, exempt=dict(exempt or {}),
            ))

    def _operation_id(self, name: str, method: str, several: bool) -> str:
        candidate = f"{name}_{method.lower()}" if several else name
        unique, n = candidate, 2
        while unique in self._operation_ids:
            unique, n = f"{candidate}_{n}", n + 1
        self._operation_ids.add(unique)
        return unique

    # -- addresses -------------------------------------------------------------------------

    def path(self, rule_path: str) -> str:
        """The site-relative path of an API path: ``api.path("/oauth/token")``, /api/oauth/token."""
        return self.prefix + ("/" + rule_path.lstrip("/") if rule_path else "")

    # -- serving ---------------------------------------------------------------------------

    def install(self, app: Flask) -> None:
        """Add one Flask rule per registered rule, and a catch-all so every path under the
        prefix answers JSON (unknown paths 404, unlisted methods 405, never an HTML page)."""
        by_rule: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            by_rule.setdefault(route.rule, {})[route.method] = route
        for number, (rule, routes) in enumerate(by_rule.items()):
            path = self.path(rule) if rule != "/" else self.prefix + "/"
            self._add_rule(app, path, f"{EXTENSION}.{number}", _RuleView(self, routes, path))
        app.url_map.converters.setdefault("jomreskit_any_path", AnyPathConverter)
        self._add_rule(app, self.prefix + "/<jomreskit_any_path:unknown_path>",
                       f"{EXTENSION}.unknown", _RuleView(self, {}, UNMATCHED))
        app.extensions[EXTENSION] = self
        if self.prefix:  # an API at "/" shares its paths with every page: sessions stay
            app.session_interface = _NoSessionUnder(self.prefix, app.session_interface)
        self._installed = True

    @staticmethod
    def _add_rule(app: Flask, rule: str, endpoint: str, view: Callable[..., Any]) -> None:
        # methods=None: the rule takes every method, so the view (not the router, which would
        # answer an HTML page) says 405. No slash redirects or merging either: those answer HTML.
        app.url_map.add(Rule(rule, endpoint=endpoint, methods=None, strict_slashes=False,
                             merge_slashes=False))
        app.view_functions[endpoint] = view


class _NoSessionUnder(SessionInterface):
    """The app's session interface, except that requests under the API's prefix get none.

    API calls authenticate with tokens, never the console's cookie: opening the session
    (building a signer, checking the cookie's signature) would be work for nothing on each
    call. They get Flask's null session, which reads as empty and is never saved.
    """

    def __init__(self, prefix: str, inner: SessionInterface) -> None:
        self.prefix, self.inner = prefix, inner
        self.null_session_class = inner.null_session_class
        self.pickle_based = inner.pickle_based

    def _is_api(self, request: Any) -> bool:
        path = request.path
        return path == self.prefix or path.startswith(self.prefix + "/")

    def open_session(self, app: Flask, request: Any) -> Any:
        if self._is_api(request):
            return None  # Flask then makes the null session
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        self.inner.save_session(app, session, response)

    def __getattr__(self, name: str) -> Any:  # the rest of the inner interface, as it is
        return getattr(self.inner, name)


class AnyPathConverter(PathConverter):
    """Any rest of a path, even one starting with a slash (``/api//x``)."""

    regex = "[\\s\\S]*"
    part_isolating = False


class _RuleView:
    """The Flask view of one rule: picks the route for the method and answers in JSON."""

    def __init__(self, api: Api, routes: dict[str, Route], template: str) -> None:
        self.api = api
        self.routes = routes
        self.template = template  # what metrics and spans name the requests by
        allowed = sorted(set(routes) | ({"HEAD"} if "GET" in routes else set()))
        self.allow = ", ".join(allowed)

    def __call__(self, **view_args: Any) -> Response:
        flask_request = request._get_current_object()  # one proxy lookup for the reads below
        started = self.api.observer.start(self.template, flask_request.method,
                                          flask_request.headers)
        given = flask_request.environ.get("HTTP_X_REQUEST_ID", "")
        # A correlation id, not a secret: drawn without a system call (os.urandom lets go of
        # the GIL, which under load hands the process to another thread mid-request).
        call = _Call(self.api, given if REQUEST_ID.fullmatch(given)
                     else f"{random.getrandbits(64):016x}")
        entered = _CALL.set(call)
        try:
            if not self.routes:
                raise ApiError(404, "not_found", f"no API endpoint at {flask_request.path}")
            for value in view_args.values():
                if (isinstance(value, int) and value > MAX_ID) or (
                        isinstance(value, str) and "\x00" in value):
                    raise ApiError(404, "not_found", f"no API resource at {flask_request.path}")
            method = flask_request.method
            route = self.routes.get("GET" if method == "HEAD" else method)
            if route is None:
                raise ApiError(405, "method_not_allowed",
                               f"{method} is not allowed here; use {self.allow}",
                               {"Allow": self.allow})
            response = self.api_call(call, route, view_args)
        except Exception as exc:  # noqa: BLE001 - every error answers JSON
            response = errors.answer(exc, error_response, call.request_id)
        finally:
            _CALL.reset(entered)
            call.give_back_connection()
        headers = response.headers
        headers["X-Request-Id"] = call.request_id
        if call.rate_headers:  # none when the answer is a 429, which carries its own
            headers.extend(call.rate_headers)
        self.api.observer.finish(started, self.template, flask_request.method,
                                 response.status_code)
        return response

    def api_call(self, call: _Call, route: Route, view_args: dict[str, Any]) -> Response:
        api = self.api
        if route.public:
            if route.method == "GET":  # reads: no transaction to begin and roll back
                with api.kit.autocommitting():
                    return _run_view(call, route, view_args)
            return _run_view(call, route, view_args)
        # The token is read on the request's connection, statement by statement, each its own
        # transaction, so a write does not hold the write lock (SQLite) or a transaction open
        # while it is checked.
        property_uid = view_args.get("property_uid")
        if isinstance(property_uid, int):  # read with the token
            call.property_uid = property_uid
        token = call.token = api.oauth.authenticate(route.scope)
        api.limiter.hit(token.api_key_id)
        # Back to the pool before the view runs: a view that waits (a long poll) or works in a
        # transaction then holds one connection, not two; one that reads on the request's
        # connection takes it again.
        call.give_back_connection()
        if not route.writes:
            # Reads: no transaction to begin and roll back, and no Session made for a view
            # that reads on the request's connection alone (a callback).
            with api.kit.autocommitting():
                return _run_view(call, route, view_args)
        return self.write(call, route, view_args, token)

    def write(self, call: _Call, route: Route, view_args: dict[str, Any],
              token: TokenGrant) -> Response:
        """Run a write view in one transaction, committed when it answers success and rolled
        back otherwise, so a write that fails leaves nothing behind, its events included.

        With an Idempotency-Key, the key is claimed first in the same transaction, the view
        runs in a savepoint, and the answer (a client error too, the view's changes undone) is
        stored before the commit; a key used before answers from its row without the view.
        """
        kit, idempotency = self.api.kit, self.api.idempotency
        session = kit.session()
        key = idempotency.requested_key()
        if key is not None:
            idempotency.purge_now_and_then(session)
        session.commit()  # ends the autocommit the purge (if any) ran in
        try:
            with kit.transaction(), kit.origin(token.client_id):
                if key is None:
                    response = _run_view(call, route, view_args)
                    if response.status_code >= 400:
                        raise _Refused(response)
                    return response
                request_print = request_fingerprint()
                stored = idempotency.claim(session, token.api_key_id, key, request_print)
                if stored is not None:
                    return stored_answer(stored, request_print)
                savepoint = session.begin_nested()
                try:
                    response = _run_view(call, route, view_args)
                    session.flush()  # a conflict the view left pending is its answer too
                except Exception as exc:  # noqa: BLE001 - the answer is stored like any other
                    response = error_response(exc)
                if response.status_code >= 400:
                    savepoint.rollback()
                    if not answer_is_kept(response):
                        raise _Refused(response)
                else:
                    savepoint.commit()
                idempotency.store(session, token.api_key_id, key, response)
                return response
        except _Refused as refused:
            return refused.response


class _Refused(Exception):
    """A write view answered an error without raising: its transaction rolls back all the same."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _run_view(call: _Call, route: Route, view_args: dict[str, Any]) -> Response:
    """Parse the route's query parameters, run its view and wrap what it returns."""
    call.params = _parse_params(route)
    result = route.view(**view_args)
    if isinstance(result, Response):
        return result
    # data, or (data, meta), or as Flask's (body, status, headers): (data, meta, status[, headers])
    data, meta, status, headers = (*result, None, None)[:4] if isinstance(result, tuple) else (
        result, None, None, None)
    response = responses.success(data, meta, status or 200)
    if headers:
        response.headers.extend(headers)
    if route.etag:
        response.headers["ETag"] = etag_of(data)
    return response


def _parse_params(route: Route) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for param in route.params:
        if param.in_ != "query":
            continue
        values = request.args.getlist(param.name)
        if values and any(v.strip() for v in values):
            parsed[param.name] = param.parse(values)
        elif param.required:
            raise ApiError(422, f"invalid_{param.name}", f"{param.name} is required",
                           field=param.name)
        elif param.default is not None:
            parsed[param.name] = param.default
    return parsed


STATUS_OF: tuple[tuple[type[JomresKitError], int], ...] = (
    (NotFound, 404),
    (PermissionDenied, 403),
    (ValidationError, 422),
    (Conflict, 409),
)


# SQLSTATEs of a write that lost to another: a deadlock, a serialization failure, a lock not
# granted in time (PostgreSQL). Trying again shortly succeeds.
_BUSY_STATES = ("40001", "40P01", "55P03")
BUSY_RETRY_AFTER = "1"  # seconds


def error_response(exc: BaseException) -> Response:
    """The JSON answer to an exception raised while serving an API request."""
    if isinstance(exc, ApiError):
        return responses.error(exc.status, exc.code, exc.message, exc.headers, exc.field)
    if isinstance(exc, JomresKitError):
        status = next((s for kind, s in STATUS_OF if isinstance(exc, kind)), 400)
        return responses.error(status, exc.code, exc.message, field=exc.field)
    if isinstance(exc, DBAPIError):
        answer = _database_answer(exc)
        if answer is not None:
            return answer
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        code = re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return responses.error(exc.code, code, exc.description or exc.name, headers)
    request_id = _request_id()
    log.error("API request %s %s failed (request id %s)", request.method, request.path,
              request_id, exc_info=exc)
    return responses.error(500, "internal_error",
                           f"unexpected error; the site's log has the details under request id "
                           f"{request_id}")


def _database_answer(exc: DBAPIError) -> Response | None:
    """409 for a change the database refused as contradicting what it holds (a unique key
    taken by a write a moment before, say); 503 with Retry-After when other writes held the
    database too long, or when the connection was lost (a database restart: SQLAlchemy has
    then replaced the pool's connections, and the next try gets a fresh one). None: a failure
    of the site's own (500)."""
    request_id = _request_id()
    if isinstance(exc, IntegrityError):
        # The constraint's name says which rule it was; the values may be a guest's details.
        log.warning("API request %s %s refused by the database (request id %s): %s",
                    request.method, request.path, request_id, _constraint(exc))
        return responses.error(409, "conflict",
                               "the change conflicts with the data as it is now (another "
                               "change may have been made at the same moment); read it again "
                               "before retrying")
    state = getattr(exc.orig, "sqlstate", None) or ""
    text = str(exc.orig)
    if (state in _BUSY_STATES or exc.connection_invalidated or "database is locked" in text
            or "database table is locked" in text):
        log.warning("API request %s %s found the database busy (request id %s): %s",
                    request.method, request.path, request_id, text.splitlines()[0] if text
                    else type(exc.orig).__name__)
        return responses.error(503, "busy", "the database is busy with other changes; retry "
                                            f"in {BUSY_RETRY_AFTER} second",
                               {"Retry-After": BUSY_RETRY_AFTER})
    return None


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint on its own
    name = getattr(diag, "constraint_name", None)
    if name:
        return f"constraint {name}"
    return str(exc.orig).splitlines()[0][:200]  # SQLite: "UNIQUE constraint failed: t.c"


# -- the request being served -------------------------------------------------------------


class _Call:
    """What api_core keeps while it serves one API request: in a context variable rather than
    on ``flask.g``, whose every read is a proxy lookup (some twenty a call, where the whole of
    a callback's API work is a few dozen microseconds)."""

    __slots__ = ("api", "request_id", "property_uid", "token", "params", "connection",
                 "rate_headers")

    def __init__(self, api: Api, request_id: str) -> None:
        self.api = api
        self.request_id = request_id
        self.property_uid: int | None = None  # the path's, read with the token's grant
        self.token: TokenGrant | None = None
        self.params: dict[str, Any] = {}
        self.connection: Connection | None = None  # request_connection's, while it is held
        self.rate_headers: dict[str, str] | None = None  # added to the answer

    def give_back_connection(self) -> None:
        held, self.connection = self.connection, None
        if held is not None:
            held.close()


_CALL: ContextVar[_Call | None] = ContextVar("jomreskit_api_call", default=None)


def current_call() -> _Call | None:
    """The API request being served in this context, or None (api_core's own helpers)."""
    return _CALL.get()


def _request_id() -> str:
    call = _CALL.get()
    return "" if call is None else call.request_id


# -- what views use ------------------------------------------------------------------------


def get_api(app: Flask | None = None) -> Api:
    """The Api of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("the REST API is not set up on this app (is api_core loaded?)") from None


def current_token() -> TokenGrant:
    """What the request's token grants: its scope, API key and manager (ids, role)."""
    call = _CALL.get()
    token = None if call is None else call.token
    if token is None:
        raise RuntimeError("the current token is only available in routes that need a token")
    return token


def current_manager() -> User:
    """The manager whose API key the request's token belongs to (loaded on first use)."""
    return _loaded(User, current_token().manager_id)


def current_api_key() -> ApiKey:
    """The API key the request's token was issued to (loaded on first use)."""
    return _loaded(ApiKey, current_token().api_key_id)


def _loaded(model: type[Any], key: int) -> Any:
    record = get_api().kit.session().get(model, key)
    if record is None:  # deleted since the token was checked, a moment ago
        raise ApiError(401, "invalid_token", "the access token's API key or manager is gone")
    return record


def request_connection() -> Connection:
    """The current API request's connection, on which each statement is a transaction of its
    own: taken from the site's pool on first use, given back once the token is checked and
    when the request is answered.

    For the hot paths, as statements compiled ahead (``jomreskit.db.CompiledStatement``): the
    token check, a callback's record, token issue's key read and INSERT. It does not see what
    the request's session has written and not yet committed; ORM work stays on
    ``kit.session()``.
    """
    call = _CALL.get()
    if call is None:
        raise RuntimeError("request_connection() is only available while an API request is "
                           "served")
    if call.connection is None:
        call.connection = call.api.engine.connect()
    return call.connection


def current_params() -> dict[str, Any]:
    """The route's declared query parameters, parsed (absent ones left out unless defaulted)."""
    call = _CALL.get()
    return {} if call is None else dict(call.params)


def require_property(property_uid: int) -> None:
    """Refuse (403 ``forbidden_property``) unless the token's manager runs the property.

    Super managers may see every property; a manager only those linked to them.
    """
    token = current_token()
    if token.is_super:
        return
    if token.property_uid == property_uid:
        linked = token.linked_to_property
    else:
        linked = services.is_linked(get_api().kit, token.manager_id, property_uid)
    if not linked:
        raise ApiError(403, "forbidden_property",
                       f"this API key's manager does not manage property {property_uid}")
