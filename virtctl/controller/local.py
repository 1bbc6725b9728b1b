"""``virtctl local up|down|status``: start the embedded controller detached, find it again, stop it,
and point a kubeconfig context (``virtctl-local``, like kind's ``kind-<name>``) at it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from virtctl.controller.pki import ensure_private_dir
from virtctl.controller.settings import Settings
from virtctl.errors import ConfigError, Timeout

CONTEXT = "virtctl-local"


@dataclass
class LocalInfo:
    url: str
    pid: int
    state_dir: Path
    kubeconfig_path: Path | None
    context: str = CONTEXT


# ----------------------------------------------------------------------------- kubeconfig
def default_kubeconfig_path() -> Path:
    """First path of ``$KUBECONFIG``, else ``~/.kube/config`` (where kubectl writes too)."""
    for part in (os.environ.get("KUBECONFIG") or "").split(os.pathsep):
        if part.strip():
            return Path(part.strip()).expanduser()
    return Path.home() / ".kube" / "config"


def _load_kubeconfig(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read kubeconfig {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"kubeconfig {path} is not valid YAML (left unchanged): {str(e).splitlines()[0]}") \
            from None
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping (left unchanged)")
    return data


def _save_kubeconfig(path: Path, data: dict[str, Any]) -> None:
    """Atomically (temp file + rename in the same directory), 0600 from the start."""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            yaml.safe_dump(data, f, default_flow_style=False, sort_keys=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _upsert(entries: list[Any], name: str, key: str, value: dict[str, Any]) -> list[Any]:
    out = [e for e in entries if not (isinstance(e, dict) and e.get("name") == name)]
    out.append({"name": name, key: value})
    return out


def write_context(path: Path, *, server: str, ca_pem: bytes, token: str, namespace: str = "default",
                  name: str = CONTEXT, set_current: bool = True) -> None:
    """Add or replace cluster, user and context ``name`` in the kubeconfig at ``path``, keeping the rest."""
    data = _load_kubeconfig(path)
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    data.setdefault("preferences", {})
    data["clusters"] = _upsert(data.get("clusters") or [], name, "cluster",
                               {"certificate-authority-data": base64.b64encode(ca_pem).decode(), "server": server})
    data["users"] = _upsert(data.get("users") or [], name, "user", {"token": token})
    data["contexts"] = _upsert(data.get("contexts") or [], name, "context",
                               {"cluster": name, "namespace": namespace, "user": name})
    if set_current or not data.get("current-context"):
        data["current-context"] = name
    _save_kubeconfig(path, data)


def remove_context(path: Path, name: str = CONTEXT) -> bool:
    """Remove our cluster, user and context; True when something was removed."""
    if not path.exists():
        return False
    data = _load_kubeconfig(path)
    changed = False
    for section in ("clusters", "users", "contexts"):
        entries = data.get(section) or []
        kept = [e for e in entries if not (isinstance(e, dict) and e.get("name") == name)]
        if len(kept) != len(entries):
            data[section] = kept
            changed = True
    if data.get("current-context") == name:
        data["current-context"] = ""
        changed = True
    if changed:
        _save_kubeconfig(path, data)
    return changed


# ----------------------------------------------------------------------------- the running server
def read_runtime(settings: Settings) -> dict[str, Any] | None:
    try:
        info = json.loads(settings.runtime_path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:         # our own child that already exited
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_ours(pid: int) -> bool:
    """Guard against a recycled pid: the process must be a virtctl one (Linux /proc; elsewhere trust it)."""
    try:
        return b"virtctl" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True


def answers(url: str, ca_path: Path | str, token: str, timeout: float = 2.0) -> bool:
    """True when ``GET /version`` over TLS with the token returns 200."""
    # imported here: the controller's HTTP client (urllib3) is not needed to read the runtime file
    from virtctl.controller.storage import http
    if not url.startswith("https://") or not ca_path:
        return False
    try:
        return http.status_of(url.rstrip("/") + "/version", ca_file=str(ca_path),
                              headers={"Authorization": f"Bearer {token}"}, timeout=timeout) == 200
    except http.HTTPFailure:
        return False


def _token(settings: Settings) -> str:
    try:
        return settings.token_path.read_text().strip()
    except OSError:
        return ""


def status(settings: Settings) -> LocalInfo | None:
    """The server running from this state dir, if it is alive and answering."""
    info = read_runtime(settings)
    if info is None or not _alive(info["pid"]):
        return None
    if not answers(str(info.get("url", "")), info.get("ca", ""), _token(settings)):
        return None
    return LocalInfo(url=info["url"], pid=info["pid"], state_dir=settings.state_dir,
                     kubeconfig_path=default_kubeconfig_path())


def _log_tail(settings: Settings, lines: int = 5) -> str:
    try:
        return " | ".join(settings.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def spawn(settings: Settings, controllers: bool = True) -> subprocess.Popen[bytes]:
    """Start ``serve`` in its own session (it outlives this process), output to the log file."""
    ensure_private_dir(settings.state_dir)
    cmd = [sys.executable, "-m", "virtctl.controller.daemon", "--state-dir", str(settings.state_dir)]
    if settings.port:
        cmd += ["--port", str(settings.port)]
    if not controllers:
        cmd.append("--no-controllers")
    fd = os.open(settings.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True,
                                close_fds=True, cwd=str(settings.state_dir))
    finally:
        os.close(fd)


def up(settings: Settings, kubeconfig: Path | None = None, timeout: float = 30,
       controllers: bool = True) -> LocalInfo:
    """Start (or reuse) the local controller and write the ``virtctl-local`` kubeconfig context.
    ``controllers=False`` serves the API only (nothing touches libvirt)."""
    info = status(settings)
    if info is None:
        proc = spawn(settings, controllers)
        deadline = time.monotonic() + timeout
        while True:
            runtime = read_runtime(settings)
            if runtime and runtime.get("pid") == proc.pid and answers(runtime["url"], runtime["ca"],
                                                                       _token(settings), timeout=1):
                info = LocalInfo(url=runtime["url"], pid=proc.pid, state_dir=settings.state_dir,
                                 kubeconfig_path=None)
                break
            if proc.poll() is not None:
                raise ConfigError(f"the local controller exited with status {proc.returncode}: "
                                  f"{_log_tail(settings) or 'see ' + str(settings.log_path)}")
            if time.monotonic() > deadline:
                proc.terminate()
                raise Timeout(f"the local controller did not answer within {timeout:g}s",
                              hint=f"see {settings.log_path}")
            time.sleep(0.05)
    path = Path(kubeconfig) if kubeconfig else default_kubeconfig_path()
    runtime = read_runtime(settings) or {}
    ca_pem = Path(runtime.get("ca") or settings.pki_dir / "ca.crt").read_bytes()
    write_context(path, server=info.url, ca_pem=ca_pem, token=_token(settings))
    info.kubeconfig_path = path
    return info


def down(settings: Settings, kubeconfig: Path | None = None, timeout: float = 15) -> bool:
    """Stop the controller of this state dir (SIGTERM, then SIGKILL after ``timeout``) and remove our
    kubeconfig context. True when a running server was stopped."""
    stopped = False
    info = read_runtime(settings)
    if info is not None and _alive(info["pid"]) and info["pid"] != os.getpid() and _is_ours(info["pid"]):
        pid = info["pid"]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        stopped = True
        try:
            settings.runtime_path.unlink()
        except FileNotFoundError:
            pass
    remove_context(Path(kubeconfig) if kubeconfig else default_kubeconfig_path())
    return stopped
