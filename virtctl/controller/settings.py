"""Where the embedded controller keeps its state, and its settings.

Everything lives under one state directory (``$VIRTCTL_STATE_DIR``, else
``$XDG_STATE_HOME/virtctl``, else ``~/.local/state/virtctl``), so tests can run many controllers
side by side. Settings come from ``<state>/config.yaml`` (all keys optional) and may be overridden
by the ``local serve`` flags.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from virtctl.errors import ConfigError
from virtctl.model.durations import parse_duration


def default_state_dir() -> Path:
    env = os.environ.get("VIRTCTL_STATE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    return Path(xdg) / "virtctl" if xdg else Path.home() / ".local" / "state" / "virtctl"


def default_libvirt_uri() -> str:
    return "qemu:///system" if os.geteuid() == 0 else "qemu:///session"


class _InStateDir:
    """A read-only path attribute of :class:`Settings`: ``state_dir / name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, settings: Any, owner: Any = None) -> Path:
        return settings.state_dir / self.name

    def __set__(self, settings: Any, value: Any) -> None:
        raise AttributeError(f"{self.name} is derived from state_dir")


@dataclass
class Settings:
    state_dir: Path = field(default_factory=default_state_dir)
    # libvirt hosts ("nodes"): the first is where new VMIs run; more enable live migration
    libvirt_uris: list[str] = field(default_factory=lambda: [default_libvirt_uri()])
    node_names: list[str] = field(default_factory=list)       # defaults: node01, node02, …
    insecure_registries: list[str] = field(default_factory=list)   # host[:port] allowed over plain http
    host_disk_dirs: list[str] = field(default_factory=list)        # where hostDisk volumes may live
    port: int = 0                          # 0: any free port on 127.0.0.1
    reconcile_workers: int = 2
    event_ttl: int = 3600                  # seconds an event is kept after it was last seen (apiserver's --event-ttl)

    # --- paths (derived) ---
    db_path = _InStateDir("store.db")
    pki_dir = _InStateDir("pki")
    token_path = _InStateDir("token")
    runtime_path = _InStateDir("server.json")      # JSON written by a running server: pid, url, port
    log_path = _InStateDir("controller.log")
    images_dir = _InStateDir("images")
    volumes_dir = _InStateDir("volumes")
    run_dir = _InStateDir("run")                    # per-VMI ephemeral files (overlays, cloud-init ISOs, empty disks)

    @property
    def controller_id(self) -> str:
        """This state dir's identity, stamped on the domains its controller runs (created once)."""
        path = self.state_dir / "controller-id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            ident = uuid.uuid4().hex
            tmp = path.with_suffix(".tmp")
            tmp.write_text(ident + "\n")
            os.replace(tmp, path)
            return path.read_text().strip()

    def node_name(self, index: int) -> str:
        if index < len(self.node_names):
            return self.node_names[index]
        return f"node{index + 1:02d}"

    @classmethod
    def load(cls, state_dir: Path | None = None) -> Settings:
        s = cls(state_dir=Path(state_dir) if state_dir else default_state_dir())
        cfg = s.state_dir / "config.yaml"
        if cfg.exists():
            try:
                data = yaml.safe_load(cfg.read_text()) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{cfg}: invalid YAML: {e}".splitlines()[0]) from None
            if not isinstance(data, dict):
                raise ConfigError(f"{cfg}: expected a mapping of settings")
            known = {"libvirtURIs": "libvirt_uris", "nodeNames": "node_names",
                     "insecureRegistries": "insecure_registries", "hostDiskDirs": "host_disk_dirs",
                     "port": "port", "reconcileWorkers": "reconcile_workers",
                     "eventTTL": "event_ttl"}
            for key, value in data.items():
                if key not in known:
                    raise ConfigError(f"{cfg}: unknown setting {key!r} (known: {', '.join(known)})")
                setattr(s, known[key], _event_ttl(cfg, value) if key == "eventTTL" else value)
        return s


def _event_ttl(cfg: Path, value: object) -> int:
    """``eventTTL``: seconds, or a Go duration (``1h``, ``90m``) as kube-apiserver's --event-ttl takes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError as e:
            raise ConfigError(f"{cfg}: eventTTL: {e}") from None
        if seconds > 0:
            return max(1, int(seconds))
    raise ConfigError(f"{cfg}: eventTTL must be a positive duration (e.g. 1h) or number of seconds, not {value!r}")
