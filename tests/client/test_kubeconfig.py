"""kubeconfig resolution: client-go merge rules, flag overrides, and agreement with the
``kubernetes`` package's loader on a corpus of kubeconfigs (exec plugins included)."""

from __future__ import annotations

import base64
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from virtctl.client.kubeconfig import NoKubeconfig, Overrides, resolve
from virtctl.errors import ConfigError

PEM_CA = b"-----BEGIN CERTIFICATE-----\nQ0EtREFUQQ==\n-----END CERTIFICATE-----\n"
PEM_CERT = b"-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n"
PEM_KEY = b"-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(path: Path, *, clusters: dict, users: dict, contexts: dict, current: str = "") -> Path:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": current,
           "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
           "users": [{"name": n, "user": u} for n, u in users.items()],
           "contexts": [{"name": n, "context": c} for n, c in contexts.items()]}
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)


def test_no_file_anywhere_means_no_kubeconfig() -> None:
    with pytest.raises(NoKubeconfig):
        resolve(Overrides())


def test_no_current_context_and_no_server_means_no_kubeconfig(tmp_path: Path, monkeypatch) -> None:
    p = kubeconfig(tmp_path / "c", clusters={"c": {"server": "https://a:1"}}, users={"u": {}},
                   contexts={"x": {"cluster": "c", "user": "u"}})
    monkeypatch.setenv("KUBECONFIG", str(p))
    with pytest.raises(NoKubeconfig):
        resolve(Overrides())
    assert resolve(Overrides(server="https://b:2")).server == "https://b:2"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        resolve(Overrides(kubeconfig=str(tmp_path / "nope")))
    assert not isinstance(e.value, NoKubeconfig)
    assert "no such file or directory" in e.value.message


def test_unknown_context_is_an_error(tmp_path: Path, monkeypatch) -> None:
    p = kubeconfig(tmp_path / "c", clusters={"c": {"server": "https://a:1"}}, users={"u": {}},
                   contexts={"x": {"cluster": "c", "user": "u"}}, current="x")
    monkeypatch.setenv("KUBECONFIG", str(p))
    with pytest.raises(ConfigError, match='context "nope" does not exist'):
        resolve(Overrides(context="nope"))


def test_kubeconfig_list_merges_first_wins(tmp_path: Path, monkeypatch) -> None:
    a = kubeconfig(tmp_path / "a", clusters={"c": {"server": "https://first:1"}},
                   users={"u": {"token": "tok-a"}}, contexts={"x": {"cluster": "c", "user": "u", "namespace": "na"}},
                   current="x")
    b = kubeconfig(tmp_path / "b", clusters={"c": {"server": "https://second:2"}, "d": {"server": "https://d:4"}},
                   users={"u": {"token": "tok-b"}, "v": {"token": "tok-v"}},
                   contexts={"x": {"cluster": "d", "user": "v"}, "z": {"cluster": "d", "user": "v"}},
                   current="z")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}{os.pathsep}{a}{os.pathsep}{b}")
    cfg = resolve(Overrides())
    assert (cfg.server, cfg.token, cfg.namespace, cfg.context) == ("https://first:1", "tok-a", "na", "x")
    cfg = resolve(Overrides(context="z"))
    assert (cfg.server, cfg.token, cfg.namespace) == ("https://d:4", "tok-v", "default")


def test_flags_override_kubeconfig(tmp_path: Path) -> None:
    p = kubeconfig(tmp_path / "c", clusters={"c": {"server": "https://a:1", "certificate-authority-data": b64(PEM_CA)},
                                             "other": {"server": "https://o:9"}},
                   users={"u": {"token": "t"}, "w": {"username": "bob", "password": "pw"}},
                   contexts={"x": {"cluster": "c", "user": "u", "namespace": "n1"}}, current="x")
    cfg = resolve(Overrides(kubeconfig=str(p), namespace="n2", token="flag-token", insecure_skip_tls_verify=True,
                            request_timeout="1m30s", impersonate="alice", impersonate_groups=["g1", "g2"],
                            tls_server_name="srv", proxy_url="http://proxy:3128"))
    assert cfg.namespace == "n2" and cfg.namespace_explicit
    assert cfg.token == "flag-token" and cfg.insecure and cfg.ca_pem() is None
    assert cfg.timeout == 90 and cfg.impersonate == "alice" and cfg.impersonate_groups == ["g1", "g2"]
    assert (cfg.tls_server_name, cfg.proxy_url) == ("srv", "http://proxy:3128")
    cfg = resolve(Overrides(kubeconfig=str(p), cluster="other", user="w"))
    assert (cfg.server, cfg.username, cfg.password, cfg.token) == ("https://o:9", "bob", "pw", "")


def test_relative_paths_resolve_against_the_kubeconfig_dir(tmp_path: Path) -> None:
    d = tmp_path / "kc"
    d.mkdir()
    (d / "ca.pem").write_bytes(PEM_CA)
    (d / "token").write_text("file-token\n")
    p = kubeconfig(d / "config", clusters={"c": {"server": "https://a:1", "certificate-authority": "ca.pem"}},
                   users={"u": {"tokenFile": "token"}}, contexts={"x": {"cluster": "c", "user": "u"}}, current="x")
    cfg = resolve(Overrides(kubeconfig=str(p)))
    assert cfg.ca_pem() == PEM_CA and cfg.bearer_token() == "file-token"


def test_bad_request_timeout_is_a_clear_error(tmp_path: Path) -> None:
    p = kubeconfig(tmp_path / "c", clusters={"c": {"server": "https://a:1"}}, users={"u": {}},
                   contexts={"x": {"cluster": "c", "user": "u"}}, current="x")
    for bad in ("soon", "1.5", "-1", " 5"):                # what kubectl refuses, in its words
        with pytest.raises(ConfigError) as e:
            resolve(Overrides(kubeconfig=str(p), request_timeout=bad))
        assert e.value.message == ("Invalid timeout value. Timeout must be a single integer in seconds, or an integer "
                                   "followed by a corresponding time unit (e.g. 1s | 2m | 3h)")
    for good, seconds in (("30", 30), ("0", None), ("1m30s", 90), ("0.5s", 0.5), ("-1s", None)):
        assert resolve(Overrides(kubeconfig=str(p), request_timeout=good)).timeout == seconds


# ------------------------------------------------------------------ agreement with kubernetes.config

EXEC_PLUGIN = """#!{python}
import json, sys
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {{"token": "exec-token-{tag}"}}}}))
"""


def _corpus(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    files = tmp_path / "files"
    files.mkdir()
    for name, data in (("ca.pem", PEM_CA), ("cert.pem", PEM_CERT), ("key.pem", PEM_KEY)):
        (files / name).write_bytes(data)
    (files / "token").write_text("token-from-file")
    plugin = files / "plugin.py"
    plugin.write_text(EXEC_PLUGIN.format(python=sys.executable, tag="1"))
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    server = "https://127.0.0.1:6443"
    cases = {
        "token+ca-data": ({"server": server, "certificate-authority-data": b64(PEM_CA)}, {"token": "abc"}, {}),
        "token-file+ca-file": ({"server": server, "certificate-authority": str(files / "ca.pem")},
                               {"tokenFile": str(files / "token")}, {"namespace": "team-a"}),
        "cert-inline": ({"server": server, "certificate-authority-data": b64(PEM_CA)},
                        {"client-certificate-data": b64(PEM_CERT), "client-key-data": b64(PEM_KEY)}, {}),
        "cert-files": ({"server": server, "certificate-authority": str(files / "ca.pem")},
                       {"client-certificate": str(files / "cert.pem"), "client-key": str(files / "key.pem")},
                       {"namespace": "n2"}),
        "insecure": ({"server": server, "insecure-skip-tls-verify": True}, {"token": "t"}, {}),
        "proxy": ({"server": server, "certificate-authority-data": b64(PEM_CA), "proxy-url": "http://proxy:3128"},
                  {"token": "t"}, {}),
        "exec-plugin": ({"server": server, "certificate-authority-data": b64(PEM_CA)},
                        {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin),
                                  "interactiveMode": "Never"}}, {"namespace": "ex"}),
    }
    out = {}
    for name, (cluster, user, ctx) in cases.items():
        path = kubeconfig(tmp_path / f"{name}.yaml", clusters={"c": cluster}, users={"u": user},
                          contexts={"x": {"cluster": "c", "user": "u", **ctx}}, current="x")
        out[name] = (path, ctx.get("namespace", "default"))
    return out


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


@pytest.mark.parametrize("case", ["token+ca-data", "token-file+ca-file", "cert-inline", "cert-files", "insecure",
                                  "proxy", "exec-plugin"])
def test_fast_path_agrees_with_kubernetes_loader(tmp_path: Path, case: str) -> None:
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    from virtctl.client.transport import HTTPTransport

    path, namespace = _corpus(tmp_path)[case]
    ref = kclient.Configuration()
    kconfig.load_kube_config(config_file=str(path), client_configuration=ref, persist_config=False)
    _, active = kconfig.list_kube_config_contexts(config_file=str(path))
    ref_token = ref.auth_settings().get("BearerToken", {}).get("value", "")

    cfg = resolve(Overrides(kubeconfig=str(path)))
    transport = HTTPTransport(cfg)          # runs the exec plugin for that case
    ours_auth = transport.headers().get("Authorization", "")

    assert cfg.server == ref.host
    assert ours_auth == ref_token
    assert cfg.insecure == (not ref.verify_ssl)
    assert cfg.ca_pem() == _read(ref.ssl_ca_cert)
    assert cfg.cert_pem() == _read(ref.cert_file)
    assert cfg.key_pem() == _read(ref.key_file)
    # kubernetes 35 ignores the cluster's proxy-url (client-go honours it): compare with the file there
    raw_cluster = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]
    assert (cfg.proxy_url or None) == (ref.proxy or raw_cluster.get("proxy-url"))
    assert cfg.namespace == active["context"].get("namespace", "default") == namespace


def test_a_name_yaml_reads_as_a_boolean_makes_the_file_unusable_as_for_kubectl(tmp_path: Path) -> None:
    p = kubeconfig(tmp_path / "y", clusters={"c": {"server": "https://d:4"}}, users={"u": {"token": "t"}},
                   contexts={"y": {"cluster": "c", "user": "u"}}, current="y")
    assert "name: y" in p.read_text()                   # plain: go-yaml v2 reads it as true
    with pytest.raises(ConfigError) as e:
        resolve(Overrides(kubeconfig=str(p)))
    # kubectl 1.3x, same file: contexts come before current-context in it
    assert e.value.message == (f'error loading config file "{p}": json: cannot unmarshal bool into Go struct field '
                               "NamedContext.contexts.name of type string")
