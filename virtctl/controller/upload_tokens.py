"""Upload tokens: what ``UploadTokenRequest`` hands out and the upload endpoint checks
(docs/standalone.md#image-upload). A token names one claim (namespace and name) and expires after
CDI's token lifetime; it is signed with a key that lives as long as the controller process, so a
token of another controller, or a changed one, is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from virtctl.errors import Unauthorized

TOKEN_TTL = 5 * 60.0           # seconds, as CDI's upload tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class UploadTokens:
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    ttl: float = TOKEN_TTL

    def issue(self, namespace: str, claim: str, *, now: float | None = None) -> str:
        issued = time.time() if now is None else now
        body = _b64(json.dumps({"ns": namespace, "pvc": claim, "exp": issued + self.ttl,
                                "n": secrets.token_hex(8)}, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())

    def verify(self, token: str, *, now: float | None = None) -> tuple[str, str]:
        """(namespace, claim) of a valid token; Unauthorized otherwise (bad signature, expired)."""
        body, _, sig = token.partition(".")
        if not body or not sig or not hmac.compare_digest(sig, self._sign(body)):
            raise Unauthorized("Unauthorized")
        try:
            claims = json.loads(_unb64(body))
            ns, pvc, exp = str(claims["ns"]), str(claims["pvc"]), float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("Unauthorized") from None
        if (time.time() if now is None else now) > exp:
            raise Unauthorized("Unauthorized")
        return ns, pvc


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header ("" when there is none)."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
