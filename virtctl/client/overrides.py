"""The global kubeconfig flags as parsed from the command line: kept apart from the kubeconfig
loader so that parsing flags costs no more than a small class (commands like ``version --client``
never read a kubeconfig)."""

from __future__ import annotations

from virtctl.model.record import Factory, Record


class Overrides(Record):
    """The global kubeconfig flags (docs/compatibility.md#global-flags). Empty means "not given"."""

    kubeconfig: str = ""
    context: str = ""
    cluster: str = ""
    user: str = ""
    namespace: str = ""
    server: str = ""
    token: str = ""
    username: str = ""
    password: str = ""
    certificate_authority: str = ""
    client_certificate: str = ""
    client_key: str = ""
    insecure_skip_tls_verify: bool = False
    tls_server_name: str = ""
    proxy_url: str = ""
    request_timeout: str = "0"
    impersonate: str = ""
    impersonate_groups: list[str] = Factory(list)
    impersonate_uid: str = ""
