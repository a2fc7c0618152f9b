"""ETags of what a route returns, and If-Match: a change made against a stale read is refused.

A record's ETag is a hash of its JSON as the API returns it, so it needs no version column:
any change to what a reader sees changes it, and nothing else does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import request
from werkzeug.http import quote_etag

from .errors import ApiError
from .responses import canonical


def etag_of(data: Any) -> str:
    """The strong ETag (quoted, as the header carries it) of ``data``, a route's answer."""
    return quote_etag(hashlib.sha256(canonical(data)).hexdigest()[:32])


def check_if_match(current_data: Any) -> None:
    """Refuse (412 ``precondition_failed``) a change whose ``If-Match`` names none of the
    record's current ETag, given the record as its GET returns it now; ``If-Match: *`` and no
    If-Match at all let the change go ahead. Weak ETags (``W/"..."``) never match, as HTTP
    says for If-Match. The answer's ``ETag`` header is the current one."""
    if "If-Match" not in request.headers:
        return
    current = etag_of(current_data)
    wanted = request.if_match
    if wanted.star_tag or wanted.contains(current.strip('"')):
        return
    raise ApiError(412, "precondition_failed",
                   "the record changed since the version this If-Match names: read it again "
                   "and send the change with its new ETag", {"ETag": current})
