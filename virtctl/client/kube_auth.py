"""Credentials the fast kubeconfig path cannot produce (exec credential plugins, auth providers).

The ``kubernetes`` package is the reference implementation of these; importing it costs ~200 ms,
so this module is imported only for users that need it
(docs/architecture.md#start-up-cost)."""

from __future__ import annotations

from dataclasses import dataclass

from virtctl.errors import ConfigError


@dataclass
class PluginCredentials:
    token: str = ""              # without the "Bearer " prefix
    cert_file: str = ""
    key_file: str = ""


def plugin_credentials(config: dict) -> PluginCredentials:
    """Run the user's exec plugin / auth provider through ``kubernetes.config``."""
    try:
        from kubernetes import client as kclient
        from kubernetes import config as kconfig
    except ImportError as e:   # pragma: no cover - a declared dependency
        raise ConfigError(f"kubeconfig needs the kubernetes package for its credential plugin: {e}") from None
    cfg = kclient.Configuration()
    try:
        kconfig.load_kube_config_from_dict(config, context="plugin", client_configuration=cfg,
                                           persist_config=False)
    except Exception as e:      # the loader raises ConfigException, OSError, ValueError …
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"getting credentials: {msg}") from None
    bearer = cfg.auth_settings().get("BearerToken", {}).get("value") or ""
    token = bearer[len("Bearer "):] if bearer.startswith("Bearer ") else bearer
    return PluginCredentials(token=token, cert_file=cfg.cert_file or "", key_file=cfg.key_file or "")
