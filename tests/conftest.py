"""Shared test fixtures (other test packages rely on these names; keep them stable).

``api_server`` (function scope) and ``api_server_session`` (session scope, for tests that only read):
    a fresh embedded API server — real SQLite store, real TLS on 127.0.0.1:<free port>, bearer token —
    serving from a background thread of the test process, with a temporary state dir. No controllers
    run: start them yourself with ``.store``, ``.settings`` and ``.runtime`` if a test needs them.
    The yielded :class:`ApiServerFixture` has:

    * ``.url``              ``https://127.0.0.1:<port>``
    * ``.token``            the bearer token
    * ``.ca_path``          the CA certificate (PEM) that signed the server certificate
    * ``.kubeconfig_path``  a kubeconfig (0600) whose context ``virtctl-local`` (namespace ``default``)
                            points at this server; use it as ``KUBECONFIG``
    * ``.store``            the ``ObjectStore`` behind the server
    * ``.settings``         the controller ``Settings`` (``state_dir`` is the temporary dir)
    * ``.runtime``          the ``Runtime`` handed to every subresource handler (``ActionContext.runtime``);
                            no hosts. A test that needs hosts (or its own subresource table) starts its
                            own server: ``_start_server(state_dir, hosts=[…], subresources=…)``
    * ``.server``           the ``ApiServer`` itself
    * ``.request(method, path, body=None, headers=None, token=…) -> HTTPResult`` a small HTTPS helper
      (``.status``, ``.headers``, ``.body`` bytes, ``.json()``); ``body`` may be a dict/list (sent as
      JSON), bytes or str; pass ``token=None`` to send no Authorization header.

``load_example(name) -> dict``: a manifest from ``tests/data/examples`` (``"vm-cirros"`` or
``"vm-cirros.yaml"``); the first document of multi-document files.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

EXAMPLES = Path(__file__).parent / "data" / "examples"
_DEFAULT = object()


def load_example(name: str) -> dict:
    path = EXAMPLES / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            return doc
    raise ValueError(f"{path} has no document")


@dataclass
class HTTPResult:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ApiServerFixture:
    url: str
    token: str
    ca_path: Path
    kubeconfig_path: Path
    store: Any
    settings: Any
    runtime: Any
    server: Any
    _ssl: ssl.SSLContext = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def port(self) -> int:
        return self.server.port

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_path))
        return self._ssl

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                token: Any = _DEFAULT, timeout: float = 10) -> HTTPResult:
        hdrs = dict(headers or {})
        tok = self.token if token is _DEFAULT else token
        if tok is not None:
            hdrs.setdefault("Authorization", f"Bearer {tok}")
        if isinstance(body, (dict, list)):
            data: bytes | None = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context(), timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return HTTPResult(resp.status, resp.headers, resp.read())
        finally:
            conn.close()


def _start_server(state_dir: Path, hosts: Any = (), reconcile: Any = None,
                  subresources: Any = None) -> tuple[ApiServerFixture, Any]:
    from virtctl.controller.local import write_context
    from virtctl.controller.pki import ensure_pki, ensure_token
    from virtctl.controller.runtime import Runtime, no_reconcile
    from virtctl.controller.server.app import ApiServer
    from virtctl.controller.server.subresource_routes import SUBRESOURCES
    from virtctl.controller.settings import Settings
    from virtctl.controller.store import ObjectStore

    settings = Settings(state_dir=state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = ObjectStore(settings.db_path)
    pki = ensure_pki(settings.pki_dir)
    token = ensure_token(settings.token_path)
    runtime = Runtime.create(store, settings, hosts, reconcile=reconcile or no_reconcile)
    server = ApiServer(runtime, token=token, pki=pki, port=0, subresources=subresources or SUBRESOURCES).start()
    kubeconfig = state_dir / "kubeconfig"
    write_context(kubeconfig, server=server.url, ca_pem=pki.ca_pem(), token=token)
    fx = ApiServerFixture(url=server.url, token=token, ca_path=pki.ca_cert, kubeconfig_path=kubeconfig,
                          store=store, settings=settings, runtime=runtime, server=server)
    return fx, (server, store)


def _stop_server(handles: Any) -> None:
    server, store = handles
    server.shutdown()
    store.close()


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[ApiServerFixture]:
    fx, handles = _start_server(tmp_path / "state")
    try:
        yield fx
    finally:
        _stop_server(handles)


@pytest.fixture(scope="session")
def api_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerFixture]:
    fx, handles = _start_server(tmp_path_factory.mktemp("api-server-session") / "state")
    try:
        yield fx
    finally:
        _stop_server(handles)
