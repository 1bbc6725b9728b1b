"""kubeconfig → connection settings, the way client-go resolves them.

A fast path in the standard library (plus PyYAML) covers what nearly every kubeconfig uses: token,
token file, basic auth, client certificate and key (inline or files), CA (inline or file),
insecure-skip-tls-verify, tls-server-name, proxy-url and the context namespace. Only users with an
``exec`` credential plugin or an ``auth-provider`` need the ``kubernetes`` package, which is then
imported lazily (see :mod:`virtctl.client.kube_auth`).

Merging follows client-go: ``KUBECONFIG`` may list several files; for every named cluster, user
and context the first file that defines it wins, as does the first non-empty ``current-context``.
Relative file paths are resolved against the directory of the file that holds them.
"""

from __future__ import annotations

import base64
import os

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms per process; annotations only
    from typing import Any

from virtctl.client.overrides import Overrides  # noqa: F401  (part of this module's API)
from virtctl.errors import ConfigError
from virtctl.model.record import Factory, Record


class NoKubeconfig(ConfigError):
    """No usable kubeconfig at all (no file anywhere, or no current context and no --server).

    The CLI reacts by using the local controller; it is never shown to the user as is."""


class ClientConfig(Record):
    """Everything needed to talk to one API server."""

    server: str
    namespace: str = "default"
    namespace_explicit: bool = False      # -n/--namespace was given
    context: str = ""
    ca_data: bytes | None = None          # PEM
    ca_file: str = ""
    cert_data: bytes | None = None        # PEM
    cert_file: str = ""
    key_data: bytes | None = None         # PEM
    key_file: str = ""
    token: str = ""
    token_file: str = ""
    username: str = ""
    password: str = ""
    insecure: bool = False
    tls_server_name: str = ""
    proxy_url: str = ""
    timeout: float | None = None          # seconds per request; None = no limit
    impersonate: str = ""
    impersonate_groups: list[str] = Factory(list)
    impersonate_uid: str = ""
    # users with exec/auth-provider: the kubeconfig pieces handed to the kubernetes loader
    plugin_config: dict | None = None

    def bearer_token(self) -> str:
        if self.token:
            return self.token
        if self.token_file:
            try:
                with open(self.token_file) as f:
                    return f.read().strip()
            except OSError as e:
                raise ConfigError(f"failed to read token file {self.token_file!r}: {e.strerror}") from None
        return ""

    def ca_pem(self) -> bytes | None:
        return _pem(self.ca_data, self.ca_file)

    def cert_pem(self) -> bytes | None:
        return _pem(self.cert_data, self.cert_file)

    def key_pem(self) -> bytes | None:
        return _pem(self.key_data, self.key_file)


def _pem(data: bytes | None, path: str) -> bytes | None:
    """Inline PEM first, else the file's."""
    if data:
        return data
    return _read_file(path) if path else None


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"open {path}: {(e.strerror or str(e)).lower()}") from None


# ---------------------------------------------------------------- loading and merging

def kubeconfig_paths(explicit: str = "") -> tuple[list[str], bool]:
    """The kubeconfig files to merge, and whether the choice was explicit (--kubeconfig).
    (Plain strings: ``pathlib`` costs more to import than reading the file.)"""
    if explicit:
        return [os.path.expanduser(explicit)], True
    env = os.environ.get("KUBECONFIG", "")
    if env:
        seen: list[str] = []
        for part in env.split(os.pathsep):
            if part and os.path.expanduser(part) not in seen:
                seen.append(os.path.expanduser(part))
        return seen, False
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")], False


_PATH_KEYS = {"clusters": ("certificate-authority",),
              "users": ("client-certificate", "client-key", "tokenFile")}


def _absolutise(section: str, entry: dict, base: str) -> None:
    for key in _PATH_KEYS.get(section, ()):
        value = entry.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            entry[key] = os.path.join(base, value)
    if section == "users":
        exec_cfg = entry.get("exec")
        # client-go resolves a relative exec command only when it names a path, not a PATH lookup
        if isinstance(exec_cfg, dict):
            cmd = exec_cfg.get("command")
            if isinstance(cmd, str) and os.sep in cmd and not os.path.isabs(cmd):
                exec_cfg["command"] = os.path.join(base, cmd)


def _load_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigError(f"error loading config file \"{path}\": {reason.lower()}") from None
    from virtctl.client.kubeconfig_yaml import load as load_plain

    data = load_plain(text)          # what kubeconfig writers emit, without importing PyYAML
    if data is not None:
        return data
    from virtctl.model import yamljson

    try:
        # client-go reads it through sigs.k8s.io/yaml: JSON values only, no Python types
        data = yamljson.loads(text) or {}
    except yamljson.YAMLDecodeError as e:
        raise ConfigError(f"error loading config file \"{path}\": {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"error loading config file \"{path}\": not a kubeconfig mapping")
    return data


_NAMED = {"clusters": "NamedCluster", "users": "NamedAuthInfo", "contexts": "NamedContext"}


def _go_json_type(value: Any) -> str:
    return ("bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else
            "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "string")


def _check_names(data: dict, path: str) -> None:
    """client-go decodes into typed structs: a name YAML reads as something else (``name: y`` is
    the boolean true) makes the whole file unusable, with encoding/json's words."""
    def refuse(value: Any, field: str) -> ConfigError:
        return ConfigError(f'error loading config file "{path}": json: cannot unmarshal {_go_json_type(value)} '
                           f"into Go struct field {field} of type string")
    for key, value in data.items():                     # in the file's order, as Go decodes
        if key == "current-context" and value is not None and not isinstance(value, str):
            raise refuse(value, "Config.current-context")
        if key in _NAMED and isinstance(value, list):
            for item in value:
                name = item.get("name") if isinstance(item, dict) else None
                if name is not None and not isinstance(name, str):
                    raise refuse(name, f"{_NAMED[key]}.{key}.name")


def load_merged(paths: list[str], explicit: bool) -> dict:
    """Merge kubeconfig files (client-go rules). Missing files are skipped unless explicit."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": "",
                              "files": []}
    for path in paths:
        if not os.path.exists(path):
            if explicit:
                raise ConfigError(f"stat {path}: no such file or directory")
            continue
        data = _load_file(path)
        _check_names(data, path)
        merged["files"].append(path)
        base = os.path.dirname(os.path.realpath(path))
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for item in data.get(section) or []:
                if not isinstance(item, dict) or not item.get("name"):
                    continue
                if item["name"] in merged[section]:
                    continue            # first file wins
                entry = dict(item.get(inner) or {})
                _absolutise(section, entry, base)
                merged[section][item["name"]] = entry
        if not merged["current-context"] and data.get("current-context"):
            merged["current-context"] = data["current-context"]
    return merged


# ---------------------------------------------------------------- resolution

def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError):
        raise ConfigError(f"invalid base64 in {what}") from None


def _data_or_file(flag: str, entry: dict, key: str) -> tuple[bytes | None, str]:
    """A PEM setting as (inline data, file path): the flag's file, else the kubeconfig entry's
    ``<key>-data``, else its ``<key>`` file."""
    if flag:
        return None, flag
    if entry.get(f"{key}-data"):
        return _b64(entry[f"{key}-data"], f"{key}-data"), ""
    return None, entry.get(key) or ""


def parse_timeout(value: str) -> float | None:
    """``--request-timeout`` as clientcmd's ``ParseTimeout`` reads it: whole seconds (``30``) or a Go
    duration (``1m30s``, ``0.5s``); ``1.5`` and ``-1`` are refused; 0 or less = no time-out."""
    from virtctl.model.durations import parse_duration

    value = value or "0"
    if value.isascii() and value.isdigit():
        seconds = float(int(value))
    else:
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise ConfigError("Invalid timeout value. Timeout must be a single integer in seconds, "
                              "or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)") from None
    return seconds if seconds > 0 else None


# ---------------------------------------------------------------- in-cluster (client-go rest.InClusterConfig)

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def service_account_dir() -> str:
    """Where a pod's service account is mounted (``VIRTCTL_SERVICE_ACCOUNT_DIR`` moves it, for tests)."""
    return os.environ.get("VIRTCTL_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT_DIR


def in_cluster_possible() -> bool:
    """client-go's ``inClusterClientConfig.Possible``: the service's host and port in the
    environment and a service-account token file."""
    return (bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and bool(os.environ.get("KUBERNETES_SERVICE_PORT"))
            and os.path.isfile(os.path.join(service_account_dir(), "token")))


def in_cluster(o: Overrides) -> ClientConfig:
    """The pod's own connection: ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``, the
    token file (read again for every request: kubelet rotates it), the service-account CA, and the
    namespace from -n, ``POD_NAMESPACE`` or the namespace file; the global flags override them as
    they override a kubeconfig's."""
    sa = service_account_dir()
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    server = o.server or (f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}")
    if "://" not in server:
        server = "https://" + server
    cfg = ClientConfig(server=server.rstrip("/"), context="")
    if o.namespace:
        cfg.namespace, cfg.namespace_explicit = o.namespace, True
    else:
        cfg.namespace = os.environ.get("POD_NAMESPACE") or _first_line(os.path.join(sa, "namespace")) or "default"
    ca = os.path.join(sa, "ca.crt")
    if o.certificate_authority:
        cfg.ca_file = o.certificate_authority
    elif os.path.isfile(ca):
        cfg.ca_file = ca
    cfg.insecure = o.insecure_skip_tls_verify
    if cfg.insecure:
        cfg.ca_file = ""
    cfg.tls_server_name = o.tls_server_name
    cfg.proxy_url = o.proxy_url
    if o.token:
        cfg.token = o.token
    else:
        cfg.token_file = os.path.join(sa, "token")
    if o.client_certificate:
        cfg.cert_file, cfg.key_file = o.client_certificate, o.client_key
    cfg.username, cfg.password = o.username, o.password
    cfg.impersonate, cfg.impersonate_uid = o.impersonate, o.impersonate_uid
    cfg.impersonate_groups = list(o.impersonate_groups)
    cfg.timeout = parse_timeout(o.request_timeout)
    return cfg


def _first_line(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def resolve(o: Overrides) -> ClientConfig:
    """The connection settings for these flags, or :class:`NoKubeconfig` when there is nothing
    to connect to (the caller then falls back to the local controller)."""
    paths, explicit = kubeconfig_paths(o.kubeconfig)
    merged = load_merged(paths, explicit)

    context_name = o.context or merged["current-context"]
    context: dict = {}
    if context_name:
        if context_name not in merged["contexts"]:
            if o.context or not o.server:
                raise ConfigError(f'context "{context_name}" does not exist')
        else:
            context = merged["contexts"][context_name]
    cluster_name = o.cluster or context.get("cluster", "")
    user_name = o.user or context.get("user", "")
    cluster = merged["clusters"].get(cluster_name, {}) if cluster_name else {}
    user = merged["users"].get(user_name, {}) if user_name else {}
    if o.cluster and o.cluster not in merged["clusters"] and not o.server:
        raise ConfigError(f'cluster "{o.cluster}" does not exist')

    server = o.server or cluster.get("server", "")
    if not server:
        if not merged["files"] or not context_name:
            if in_cluster_possible():
                return in_cluster(o)
            raise NoKubeconfig("no kubeconfig found")
        if explicit or o.context:
            raise ConfigError("invalid configuration: no configuration has been provided, "
                              "try setting KUBERNETES_MASTER environment variable")
        if in_cluster_possible():
            return in_cluster(o)
        raise NoKubeconfig("kubeconfig has no server")
    if "://" not in server:
        server = "https://" + server

    cfg = ClientConfig(server=server.rstrip("/"), context=context_name)
    if o.namespace:
        cfg.namespace, cfg.namespace_explicit = o.namespace, True
    else:
        cfg.namespace = context.get("namespace") or "default"

    # TLS: a CA given on the command line replaces the kubeconfig's
    cfg.ca_data, cfg.ca_file = _data_or_file(o.certificate_authority, cluster, "certificate-authority")
    cfg.insecure = bool(o.insecure_skip_tls_verify or cluster.get("insecure-skip-tls-verify", False))
    if o.insecure_skip_tls_verify:
        cfg.ca_data, cfg.ca_file = None, ""
    cfg.tls_server_name = o.tls_server_name or cluster.get("tls-server-name", "")
    cfg.proxy_url = o.proxy_url or cluster.get("proxy-url", "")

    # credentials: flags replace the kubeconfig user's
    cfg.cert_data, cfg.cert_file = _data_or_file(o.client_certificate, user, "client-certificate")
    cfg.key_data, cfg.key_file = _data_or_file(o.client_key, user, "client-key")
    if o.token:
        cfg.token = o.token
    elif user.get("token"):
        cfg.token = user["token"]
    elif user.get("tokenFile"):
        cfg.token_file = user["tokenFile"]
    cfg.username = o.username or user.get("username", "")
    cfg.password = o.password or user.get("password", "")
    cfg.impersonate = o.impersonate or user.get("as", "")
    cfg.impersonate_groups = list(o.impersonate_groups or user.get("as-groups") or [])
    cfg.impersonate_uid = o.impersonate_uid or user.get("as-uid", "")
    cfg.timeout = parse_timeout(o.request_timeout)

    if not cfg.token and not o.token and (user.get("exec") or user.get("auth-provider")):
        cfg.plugin_config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "plugin",
            "clusters": [{"name": "plugin", "cluster": {k: v for k, v in cluster.items()} | {"server": cfg.server}}],
            "users": [{"name": "plugin", "user": user}],
            "contexts": [{"name": "plugin", "context": {"cluster": "plugin", "user": "plugin"}}],
        }
    return cfg
