"""A small client for the OCI distribution API v2 (pull only), over :mod:`.http` (urllib3).

What it does, as Docker does it: image references (``host:port/repo:tag``, ``@sha256:…``, the
``docker.io`` + ``library/`` defaults), manifests (OCI index/manifest, Docker manifest list/v2),
linux/amd64 chosen from an index, token auth (``WWW-Authenticate: Bearer``) and Basic auth with
credentials from ``~/.docker/config.json``, and plain HTTP only for loopback registries or those
the settings list as insecure. Blobs stream to a temp file, are checked against their digest and
only then land in the content-addressed :class:`BlobStore`.

Every failure is an :class:`ImagePullError` (the controller shows ``ErrImagePull``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from virtctl.controller.storage import http
from virtctl.controller.storage.http import plain_http_allowed
from virtctl.errors import VirtctlError

_T = TypeVar("_T")
Progress = Callable[[str, int, int], None]      # (layer digest, bytes done, bytes total)

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_HOST = "registry-1.docker.io"
DEFAULT_TAG = "latest"
PLATFORM = ("linux", "amd64")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

MAX_MANIFEST_BYTES = 4 << 20
TIMEOUT_S = http.TIMEOUT_S
MAX_REDIRECTS = 5


class ImagePullError(VirtctlError):
    """An image cannot be pulled (the controller maps it to ErrImagePull)."""


class InvalidReference(ImagePullError):
    pass


class RegistryUnreachable(ImagePullError):
    pass


class ImageNotFound(ImagePullError):
    pass


class RegistryAuthError(ImagePullError):
    pass


class DigestMismatch(ImagePullError):
    pass


class InsecureRegistry(ImagePullError):
    """Plain HTTP to a registry that is neither on loopback nor listed as insecure."""


# --- references -------------------------------------------------------------------------------

_DOMAIN_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_NAME_MAX = 255


@dataclass(frozen=True)
class ImageReference:
    registry: str            # "docker.io", "localhost:5000", "[::1]:5000"
    repository: str          # "library/alpine"
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """host[:port] that answers the API (Docker Hub's differs from its name)."""
        return DOCKER_HUB_HOST if self.registry == DEFAULT_REGISTRY else self.registry

    @property
    def reference(self) -> str:
        """What the manifest is fetched by: the digest if given, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        s = f"{self.registry}/{self.repository}"
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def parse_reference(text: str) -> ImageReference:
    """Parse an image reference the way Docker (distribution/reference) normalises it."""
    bad = InvalidReference(f'invalid reference format: "{text}"')
    if not text or text != text.strip():
        raise bad
    name, digest = text, None
    if "@" in text:
        name, digest = text.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidReference(f'invalid reference format: "{text}": unsupported digest '
                                   f'(expected sha256:<64 hex digits>)')
    tag = None
    colon, slash = name.rfind(":"), name.rfind("/")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(tag):
            raise bad
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost" and first == first.lower()):
        registry, path = DEFAULT_REGISTRY, name
    else:
        registry, path = first, rest
        if not _DOMAIN_RE.match(registry):
            raise bad
    if registry in ("index.docker.io", DOCKER_HUB_HOST):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if len(path) > _NAME_MAX or not all(_PATH_COMPONENT_RE.match(c) for c in path.split("/")):
        raise bad
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry, path, tag, digest)


# --- credentials ------------------------------------------------------------------------------

def _registry_key(key: str) -> str:
    key = key.strip().lower()
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    key = key.split("/", 1)[0]
    return DEFAULT_REGISTRY if key in ("index.docker.io", DOCKER_HUB_HOST) else key


def docker_config_credentials(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """``auths`` of the Docker client config: registry → (user, password). Helpers are not run."""
    if path is None:
        base = os.environ.get("DOCKER_CONFIG")
        path = Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise RegistryAuthError(f"{path}: unreadable Docker config: {e}".splitlines()[0]) from None
    creds: dict[str, tuple[str, str]] = {}
    for key, entry in (data.get("auths") or {}).items():
        if not isinstance(entry, dict):
            continue
        user, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise RegistryAuthError(f"{path}: auths[{key!r}].auth is not base64 user:password") from None
        if user and password is not None:
            creds[_registry_key(key)] = (user, password)
    return creds


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', params)}


# --- blob store -------------------------------------------------------------------------------

def digest_hex(digest: str) -> str:
    if not _DIGEST_RE.match(digest or ""):
        raise ImagePullError(f"unsupported digest {digest!r} (expected sha256:<64 hex digits>)")
    return digest.split(":", 1)[1]


class BlobStore:
    """Content-addressed blobs: ``<root>/sha256/<hex>``; a blob is there only once verified."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        return self.root / "sha256" / digest_hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def temp_path(self, digest: str) -> Path:
        d = self.root / "sha256"
        d.mkdir(parents=True, exist_ok=True)
        return d / f".tmp-{digest_hex(digest)}-{os.getpid()}-{threading.get_ident()}"


# --- client -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Manifest:
    digest: str              # sha256 of the image manifest bytes (the platform's, under an index)
    media_type: str
    body: dict
    config_digest: str
    layers: tuple[dict, ...]  # descriptors: mediaType, digest, size


class RegistryClient:
    """Pulls manifests and blobs. Thread-safe; one instance may serve many pulls."""

    def __init__(self, insecure_registries: Iterable[str] = (), *, docker_config: Path | None = None,
                 timeout: float = TIMEOUT_S):
        self.insecure_registries = list(insecure_registries)
        self.timeout = timeout
        self._docker_config = docker_config
        self._credentials: dict[str, tuple[str, str]] | None = None
        self._lock = threading.Lock()
        self._auth: dict[tuple[str, str], str] = {}      # (registry, repository) → Authorization
        self._scheme: dict[str, str] = {}                 # api host → "https" | "http"

    # public API

    def get_manifest(self, ref: ImageReference) -> Manifest:
        """The linux/amd64 image manifest of ``ref`` (resolving an index), verified by digest."""
        media_type, raw = self._fetch_manifest(ref, ref.reference, expect_digest=ref.digest)
        body = self._json(raw, ref)
        media_type = body.get("mediaType") or media_type
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if media_type in INDEX_TYPES or ("manifests" in body and "layers" not in body):
            child = self._pick_platform(body, ref)
            media_type, raw = self._fetch_manifest(ref, child["digest"], expect_digest=child["digest"])
            body = self._json(raw, ref)
            media_type = body.get("mediaType") or media_type
            digest = child["digest"]
        if body.get("schemaVersion") != 2 or not isinstance(body.get("layers"), list):
            raise ImagePullError(f'image "{ref}": unsupported manifest type {media_type or "unknown"}')
        layers = tuple(body["layers"])
        for layer in layers:
            digest_hex(layer.get("digest", ""))
        return Manifest(digest, media_type, body, (body.get("config") or {}).get("digest", ""), layers)

    def fetch_blob(self, ref: ImageReference, digest: str, store: BlobStore, *, size: int | None = None,
                   progress: Progress | None = None) -> Path:
        """Download one blob into ``store`` (verified); a blob already there is not fetched."""
        final = store.path(digest)
        if final.is_file():
            return final
        tmp = store.temp_path(digest)
        hasher = hashlib.sha256()
        resp = self._request(ref, "GET", f"/v2/{ref.repository}/blobs/{digest}")
        try:
            if resp.status == 404:
                raise ImageNotFound(f'image "{ref}": blob {digest} not found')
            self._check_status(resp, ref)
            total = size if size is not None else int(resp.headers.get("Content-Length") or 0)
            if progress:
                progress(digest, 0, total)

            def on_chunk(chunk: bytes, so_far: int) -> None:
                hasher.update(chunk)
                if progress:
                    progress(digest, so_far, total)
            with open(tmp, "wb") as out:
                done = self._transfer(ref, lambda: http.copy_body(resp, out, on_chunk))
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            resp.close()
        if "sha256:" + hasher.hexdigest() != digest or (size is not None and done != size):
            tmp.unlink(missing_ok=True)
            raise DigestMismatch(f"blob {digest} digest mismatch")
        os.replace(tmp, final)
        return final

    # manifests

    def _fetch_manifest(self, ref: ImageReference, reference: str, *, expect_digest: str | None) -> tuple[str, bytes]:
        resp = self._request(ref, "GET", f"/v2/{ref.repository}/manifests/{reference}", {"Accept": ACCEPT})
        try:
            if resp.status == 404:
                detail = _error_detail(resp)             # the registry's own words: "manifest unknown", …
                raise ImageNotFound(f'image "{ref}" not found' + (f": {detail}" if detail else ""))
            self._check_status(resp, ref)
            raw = self._transfer(ref, lambda: http.read(resp, MAX_MANIFEST_BYTES + 1))
        finally:
            resp.close()
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ImagePullError(f'image "{ref}": manifest larger than {MAX_MANIFEST_BYTES} bytes')
        if expect_digest and "sha256:" + hashlib.sha256(raw).hexdigest() != expect_digest:
            raise DigestMismatch(f"manifest {expect_digest} digest mismatch")
        return (resp.headers.get("Content-Type") or "").split(";")[0].strip(), raw

    @staticmethod
    def _json(raw: bytes, ref: ImageReference) -> dict:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ImagePullError(f'image "{ref}": manifest is not a JSON object')
        return body

    @staticmethod
    def _pick_platform(index: dict, ref: ImageReference) -> dict:
        for m in index.get("manifests") or []:
            p = m.get("platform") or {}
            if (p.get("os"), p.get("architecture")) == PLATFORM and m.get("digest"):
                digest_hex(m["digest"])
                return m
        raise ImagePullError(f'image "{ref}" has no {PLATFORM[0]}/{PLATFORM[1]} manifest')

    # HTTP

    @staticmethod
    def _transfer(ref: ImageReference, read: Callable[[], _T]) -> _T:
        """Reading a body: a connection lost on the way is an unreachable registry."""
        try:
            return read()
        except http.TransportError as e:
            raise RegistryUnreachable(f'image "{ref}": registry {ref.registry} unreachable: {e.reason}') from e

    def _check_status(self, resp: http.Response, ref: ImageReference) -> None:
        if resp.status in (401, 403):
            raise RegistryAuthError(f'image "{ref}": access denied by registry {ref.registry} '
                                    f'(authentication failed or no permission)')
        if resp.status != 200:
            detail = _error_detail(resp)
            raise ImagePullError(f'image "{ref}": registry {ref.registry} answered {resp.status}'
                                 + (f": {detail}" if detail else ""))

    def _request(self, ref: ImageReference, method: str, path: str,
                 headers: dict[str, str] | None = None) -> http.Response:
        """One API call with auth: on 401, answer the challenge once and retry."""
        base = f"{self._base_scheme(ref)}://{ref.api_host}"
        key = (ref.registry, ref.repository)
        hdrs = dict(headers or {})
        with self._lock:
            auth = self._auth.get(key)
        if auth:
            hdrs["Authorization"] = auth
        resp = self._open(method, base + path, hdrs, ref)
        if resp.status != 401:
            return resp
        challenge = resp.headers.get("WWW-Authenticate") or ""
        http.drain(resp)
        auth = self._answer_challenge(challenge, ref)
        with self._lock:
            self._auth[key] = auth
        hdrs["Authorization"] = auth
        return self._open(method, base + path, hdrs, ref)

    def _answer_challenge(self, challenge: str, ref: ImageReference) -> str:
        scheme, params = _parse_challenge(challenge)
        creds = self._creds_for(ref.registry)
        if scheme == "basic":
            if creds is None:
                raise RegistryAuthError(f'image "{ref}": registry {ref.registry} requires credentials '
                                        f'(none for it in the Docker config auths)')
            return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryAuthError(f'image "{ref}": registry {ref.registry} asks for unsupported '
                                    f'authentication "{challenge[:60]}"')
        query = {"scope": params.get("scope") or f"repository:{ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urllib.parse.urlencode(query)
        hdrs = {}
        if creds is not None:
            hdrs["Authorization"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        resp = self._open("GET", url, hdrs, ref)
        try:
            if resp.status != 200:
                raise RegistryAuthError(f'image "{ref}": token request to {http.host_of(url)} failed '
                                        f'with status {resp.status}')
            try:
                token = json.loads(self._transfer(ref, lambda: http.read(resp, 1 << 20)))
                token = token.get("token") or token.get("access_token")
            except (ValueError, AttributeError):
                token = None
        finally:
            resp.close()
        if not token:
            raise RegistryAuthError(f'image "{ref}": token server {http.host_of(url)} returned no token')
        return f"Bearer {token}"

    def _creds_for(self, registry: str) -> tuple[str, str] | None:
        with self._lock:
            if self._credentials is None:
                self._credentials = docker_config_credentials(self._docker_config)
            return self._credentials.get(registry.lower())

    def _base_scheme(self, ref: ImageReference) -> str:
        """https, or http for an allowed registry whose TLS handshake fails (Docker's fallback)."""
        host = ref.api_host
        with self._lock:
            if host in self._scheme:
                return self._scheme[host]
        scheme = "https"
        if plain_http_allowed(host, self.insecure_registries):
            try:
                http.drain(self._open("GET", f"https://{host}/v2/", {}, ref, verify=False))
            except RegistryUnreachable as e:
                if not (isinstance(e.__cause__, http.TransportError) and e.__cause__.handshake):
                    raise
                scheme = "http"
        with self._lock:
            self._scheme[host] = scheme
        return scheme

    def _open(self, method: str, url: str, headers: dict[str, str], ref: ImageReference,
              *, verify: bool | None = None) -> http.Response:
        """Send one request, following redirects; Authorization is dropped when the host changes."""
        def allowed(hostport: str) -> bool:
            return plain_http_allowed(hostport, self.insecure_registries)
        try:
            return http.open_url(method, url, headers, allow_plain=allowed, max_redirects=MAX_REDIRECTS,
                                 verify=verify if verify is not None else (lambda hp: not allowed(hp)),
                                 timeout=self.timeout)
        except http.PlainHTTPRefused as e:
            raise InsecureRegistry(f'image "{ref}": refusing plain HTTP to {e.hostport} (not on loopback '
                                   f'and not in the insecure registries setting)') from None
        except http.TransportError as e:
            if e.unknown_host:
                host, _ = http.split_host_port(e.hostport)
                raise RegistryUnreachable(f'image "{ref}": unknown registry host {host}') from e
            raise RegistryUnreachable(f'image "{ref}": registry {e.hostport} unreachable: {e.reason}') from e
        except http.TooManyRedirects:
            raise ImagePullError(f'image "{ref}": too many redirects') from None
        except http.UnsupportedScheme:
            raise ImagePullError(f'image "{ref}": unsupported URL scheme in {url[:80]}') from None


def _error_detail(resp: http.Response) -> str:
    """The first ``errors[].message`` of a distribution API error body, if any."""
    try:
        body = json.loads(http.read(resp, 1 << 16))
        err = (body.get("errors") or [{}])[0]
        return str(err.get("message") or err.get("code") or "")[:200]
    except (ValueError, AttributeError, IndexError, http.HTTPFailure):
        return ""
