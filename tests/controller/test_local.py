"""Process management: daemon.serve, local up/down/status, kubeconfig merging."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest
import yaml

from virtctl.controller import daemon, local
from virtctl.controller.pki import ensure_pki
from virtctl.controller.settings import Settings
from virtctl.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_in_a_thread_writes_and_removes_runtime(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    urls: list[str] = []
    ready = threading.Event()
    stop = threading.Event()
    t = threading.Thread(target=daemon.serve, args=(settings,),
                         kwargs={"ready": lambda u: (urls.append(u), ready.set()), "stop": stop,
                                 "controllers": False})
    t.start()
    try:
        assert ready.wait(10)
        info = json.loads(settings.runtime_path.read_text())
        assert mode(settings.runtime_path) == 0o600
        assert info["url"] == urls[0] and info["url"].startswith("https://127.0.0.1:")
        assert info["port"] == int(info["url"].rsplit(":", 1)[1]) and Path(info["ca"]).exists()
        assert local.answers(info["url"], info["ca"], settings.token_path.read_text().strip())
        assert not local.answers(info["url"], info["ca"], "wrong-token")
        # a server whose certificate another CA signed is not ours, whatever it answers
        other_ca = ensure_pki(tmp_path / "other-pki").ca_cert
        assert not local.answers(info["url"], str(other_ca), settings.token_path.read_text().strip())
        assert mode(settings.log_path) == 0o600 and mode(settings.state_dir) == 0o700
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    assert not settings.runtime_path.exists()
    assert "API server listening on" in settings.log_path.read_text()


def test_kubeconfig_merge_keeps_other_contexts(tmp_path):
    path = tmp_path / "kube" / "config"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443"}}],
        "users": [{"name": "admin", "user": {"token": "abc"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}]}))
    local.write_context(path, server="https://127.0.0.1:1234", ca_pem=b"PEM", token="tok")
    local.write_context(path, server="https://127.0.0.1:5678", ca_pem=b"PEM", token="tok2")   # replaces, no dupes
    data = yaml.safe_load(path.read_text())
    assert mode(path) == 0o600
    assert data["current-context"] == "virtctl-local"
    assert [c["name"] for c in data["contexts"]] == ["prod", "virtctl-local"]
    ours = next(c for c in data["clusters"] if c["name"] == "virtctl-local")["cluster"]
    assert ours == {"certificate-authority-data": "UEVN", "server": "https://127.0.0.1:5678"}
    assert next(u for u in data["users"] if u["name"] == "virtctl-local")["user"] == {"token": "tok2"}
    assert next(c for c in data["contexts"] if c["name"] == "virtctl-local")["context"]["namespace"] == "default"
    assert local.remove_context(path)
    data = yaml.safe_load(path.read_text())
    assert [c["name"] for c in data["contexts"]] == ["prod"] and data["current-context"] == ""
    assert not local.remove_context(path)
    assert [p.name for p in path.parent.iterdir()] == ["config"]      # no temp files left


def test_invalid_kubeconfig_is_left_alone(tmp_path):
    path = tmp_path / "config"
    path.write_text("clusters: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        local.write_context(path, server="https://127.0.0.1:1", ca_pem=b"x", token="t")
    assert path.read_text() == "clusters: [unclosed\n"


def test_default_kubeconfig_path(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a:{tmp_path}/b")
    assert local.default_kubeconfig_path() == tmp_path / "a"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local.default_kubeconfig_path() == tmp_path / ".kube" / "config"


def test_up_is_idempotent_and_down_stops(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    kubeconfig = tmp_path / "kubeconfig"
    assert local.status(settings) is None
    info = local.up(settings, kubeconfig=kubeconfig, timeout=30, controllers=False)
    try:
        assert info.url.startswith("https://127.0.0.1:") and info.kubeconfig_path == kubeconfig
        assert info.context == "virtctl-local" and info.state_dir == settings.state_dir
        again = local.up(settings, kubeconfig=kubeconfig, controllers=False)
        assert again.pid == info.pid and again.url == info.url
        status = local.status(settings)
        assert status is not None and status.pid == info.pid
        cfg = yaml.safe_load(kubeconfig.read_text())
        assert cfg["current-context"] == "virtctl-local" and mode(kubeconfig) == 0o600
        assert cfg["clusters"][0]["cluster"]["server"] == info.url
    finally:
        stopped = local.down(settings, kubeconfig=kubeconfig)
    assert stopped
    assert local.status(settings) is None and not settings.runtime_path.exists()
    assert yaml.safe_load(kubeconfig.read_text())["contexts"] == []
    assert not local.down(settings, kubeconfig=kubeconfig)
    assert "shutting down" in settings.log_path.read_text()


def test_up_reports_a_server_that_cannot_start(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    settings.state_dir.mkdir(mode=0o700)
    (settings.state_dir / "config.yaml").write_text("bogusSetting: 1\n")
    with pytest.raises(ConfigError, match="exited with status 1"):
        local.up(settings, kubeconfig=tmp_path / "kubeconfig", timeout=20, controllers=False)
    assert not (tmp_path / "kubeconfig").exists()


def test_serve_with_libvirtd_down_keeps_the_api_up(tmp_path):
    """The API answers (and stores VMs) while libvirtd is unreachable; the failure is logged."""
    settings = Settings(state_dir=tmp_path / "state",
                        libvirt_uris=[f"qemu+unix:///system?socket={tmp_path}/no-libvirt-sock"])
    ready = threading.Event()
    stop = threading.Event()
    urls: list[str] = []
    t = threading.Thread(target=daemon.serve, args=(settings,),
                         kwargs={"ready": lambda u: (urls.append(u), ready.set()), "stop": stop})
    t.start()
    try:
        assert ready.wait(10)
        token = settings.token_path.read_text().strip()
        deadline = time.monotonic() + 10
        while "controllers started" not in settings.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert t.is_alive()
        assert local.answers(urls[0], str(settings.pki_dir / "ca.crt"), token)
        log_text = settings.log_path.read_text()
        assert "controllers started" in log_text
        assert "cannot connect to libvirt at qemu+unix:///system" in log_text
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
