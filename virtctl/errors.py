"""One error hierarchy for the whole product.

Every failure a user can see is a :class:`VirtctlError`: a one-line message, an optional hint and
an exit code. The CLI prints it once, at the top (``virtctl.cli.main``). Errors that come from a
Kubernetes/KubeVirt server are built from its ``Status`` body (:func:`api_error_from_status`), so
the message shown is the server's own, as Go virtctl shows it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms per process; annotations only
    from typing import Any


class ExitStatus:
    SUCCESS = 0
    ERROR = 1          # Go virtctl exits 1 on every error
    USAGE = 1


class VirtctlError(Exception):
    """A failure with a message meant for the user (one line, no traceback)."""

    exit_code = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(VirtctlError):
    """Bad flags or arguments, detected before any request."""


class ConfigError(VirtctlError):
    """kubeconfig or settings cannot be used."""


class ConnectionFailed(VirtctlError):
    """The API server cannot be reached."""


class Timeout(VirtctlError):
    """A wait ran out of time."""


class APIError(VirtctlError):
    """An error answered by the API server, built from a Kubernetes ``Status``."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, code: int | None = None, reason: str | None = None,
                 details: dict | None = None, status: dict | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason
        self.details = details or {}
        self.status = status

    def to_status(self) -> dict[str, Any]:
        """The Kubernetes ``Status`` object for this error (what a server sends)."""
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if not self.reason:
            del body["reason"]             # metav1.Status omits an empty reason (omitempty)
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(APIError):
    code, reason = 400, "BadRequest"


class Unauthorized(APIError):
    code, reason = 401, "Unauthorized"


class Forbidden(APIError):
    code, reason = 403, "Forbidden"


class NotFound(APIError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(APIError):
    code, reason = 405, "MethodNotAllowed"


class AlreadyExists(APIError):
    code, reason = 409, "AlreadyExists"


class Conflict(APIError):
    code, reason = 409, "Conflict"


class Gone(APIError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(APIError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(APIError):
    code, reason = 422, "Invalid"


def status_cause(reason: str, message: str, field: str = "") -> dict[str, str]:
    """One ``StatusCause`` of a Status, with Kubernetes' JSON keys (Go's ``CauseType`` is ``reason``).
    The one place causes are built: the 422s of every layer use it."""
    cause = {"reason": reason, "message": message}
    if field:
        cause["field"] = field
    return cause


def field_invalid(field: str, message: str, reason: str = "FieldValueInvalid") -> Invalid:
    """A 422 about one field, worded as the apiserver words a field error: ``<field>: <message>``,
    with that one cause (``reason`` e.g. FieldValueInvalid, FieldValueRequired, FieldValueNotSupported)."""
    text = f"{field}: {message}"
    return Invalid(text, details={"causes": [status_cause(reason, text, field)]})


class TooManyRequests(APIError):
    code, reason = 429, "TooManyRequests"


class InternalError(APIError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(APIError):
    code, reason = 503, "ServiceUnavailable"


_BY_REASON = {c.reason: c for c in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed,
                                     AlreadyExists, Conflict, Gone, UnsupportedMediaType, Invalid,
                                     TooManyRequests, InternalError, ServiceUnavailable)}
_BY_CODE = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
            409: Conflict, 410: Gone, 415: UnsupportedMediaType, 422: Invalid, 429: TooManyRequests,
            500: InternalError, 503: ServiceUnavailable}


def api_error_from_status(code: int, body: bytes | str | dict | None) -> APIError:
    """Build the typed error for an HTTP error answer (a ``Status`` body, or anything else)."""
    status: dict | None = None
    if isinstance(body, dict):
        status = body
    elif body:
        import json  # only when an error body arrives: keeps `import virtctl.errors` cheap

        try:
            parsed = json.loads(body)
            status = parsed if isinstance(parsed, dict) and parsed.get("kind") == "Status" else None
        except (ValueError, UnicodeDecodeError):
            status = None
    if status is not None:
        reason = status.get("reason") or ""
        cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or APIError
        if code == 409 and reason == "AlreadyExists":
            cls = AlreadyExists
        message = status.get("message") or f"the server responded with the status code {code}"
        return cls(message, code=code, reason=reason or cls.reason, details=status.get("details"), status=status)
    text = body.decode(errors="replace") if isinstance(body, bytes) else (body if isinstance(body, str) else "")
    cls = _BY_CODE.get(code, APIError)
    if code == 404:
        msg = "the server could not find the requested resource"
    elif text.strip():
        import json  # Go's %q: the body quoted, its quotes and backslashes escaped

        quoted = json.dumps(text.strip()[:200], ensure_ascii=False)
        msg = f"an error on the server ({quoted}) has prevented the request from succeeding"
    else:
        msg = f"the server responded with the status code {code} but did not return more information"
    return cls(msg, code=code)
