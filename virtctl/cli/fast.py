"""The start-up fast path: every scripted command without typer.

Each command here is declared by the flags it takes (:data:`COMMANDS`). When the words after the
global flags use only those flags, in forms whose meaning is certain, the parser builds the keyword
arguments of the command's :mod:`virtctl.cli.ops` function — the same dict
:func:`virtctl.cli.args.call_params` builds from click — and calls it; typer (≈ 40 ms of imports) is
never loaded. Anything else (help, unknown or bundled flags, ``--``, a flag without its value, a bool
flag given twice, an int that is not plain digits) returns ``None`` and the full parser takes over, so
usage errors and help come from one place. tests/cli/test_fast.py checks this parser against click's
on generated command lines for every command here, and that both paths print the same.

A new command needs no entry here (it simply takes the full path); to make it fast, give it an
:mod:`virtctl.cli.ops` function, call that from its typer command with ``call_params(ctx)``, and
declare its flags below.
"""

from __future__ import annotations

BOOL, STR, INT, LIST = "bool", "str", "int", "list"
TRUE, FALSE = ("1", "t", "true"), ("0", "f", "false")

Flags = dict  # option string -> (parameter name, kind, default)


def _b(param: str) -> tuple[str, str, object]:
    return (param, BOOL, False)


def _s(param: str, default: str = "") -> tuple[str, str, object]:
    return (param, STR, default)


def _l(param: str) -> tuple[str, str, object]:
    return (param, LIST, None)


_WAIT = {"--dry-run": _b("dry_run"), "--wait": _b("wait"), "--timeout": _s("timeout", "5m")}
_FORCE = {"--force": _b("force"), "--grace-period": ("grace_period", INT, -1)}
_SNAP_WAIT = {"--name": _s("name"), "--wait": _b("wait"), "--timeout": _s("timeout", "5m")}
_NAMESPACED = {"--name": _s("name"), "--namespaced": _b("namespaced")}
_CREATE_VM = {
    "--name": _s("name"), "--run-strategy": _s("run_strategy", "Always"),
    "--termination-grace-period": _s("termination_grace_period", "180"), "--memory": _s("memory", "512Mi"),
    "--instancetype": _s("instancetype"), "--infer-instancetype": _b("infer_instancetype"),
    "--infer-instancetype-from": _s("infer_instancetype_from"), "--preference": _s("preference"),
    "--infer-preference": _b("infer_preference"), "--infer-preference-from": _s("infer_preference_from"),
    "--volume-containerdisk": _l("volume_containerdisk"), "--volume-pvc": _l("volume_pvc"),
    "--volume-import": _l("volume_import"), "--volume-sysprep": _s("volume_sysprep"), "--user": _s("user"),
    "--password-file": _s("password_file"), "--ssh-key": _l("ssh_key"), "--ga-manage-ssh": _b("ga_manage_ssh"),
    "--access-cred": _l("access_cred"), "--cloud-init": _s("cloud_init", "nocloud"),
    "--cloud-init-user-data": _s("cloud_init_user_data"), "--cloud-init-network-data": _s("cloud_init_network_data"),
    "--volume-datasource": _l("volume_datasource"), "--volume-clone-pvc": _l("volume_clone_pvc"),
    "--volume-blank": _l("volume_blank"),
}
_GET = {"-o": _s("output"), "--output": _s("output"), "-l": _s("selector"), "--selector": _s("selector"),
        "-w": _b("watch"), "--watch": _b("watch"), "-A": _b("all_namespaces"), "--all-namespaces": _b("all_namespaces")}
_SSH = {"-l": _s("username"), "--username": _s("username"), "-i": _s("identity_file"),
        "--identity-file": _s("identity_file"), "--known-hosts": _s("known_hosts"), "-p": ("port", INT, 22),
        "--port": ("port", INT, 22), "-t": _l("local_ssh_opts"), "--local-ssh-opts": _l("local_ssh_opts"),
        "--local-ssh": ("local_ssh", BOOL, True)}

_OPS = "virtctl.cli.ops."
# command path -> (module, function, flags, takes positional arguments)
COMMANDS: dict[tuple[str, ...], tuple[str, str, Flags, bool]] = {
    ("start",): (_OPS + "lifecycle", "start", {"--paused": _b("paused"), **_WAIT}, True),
    ("stop",): (_OPS + "lifecycle", "stop", {**_FORCE, **_WAIT}, True),
    ("restart",): (_OPS + "lifecycle", "restart", {**_FORCE, **_WAIT}, True),
    ("migrate",): (_OPS + "lifecycle", "migrate", {"--addedNodeSelector": _l("added_node_selector"), **_WAIT}, True),
    ("migrate-cancel",): (_OPS + "lifecycle", "migrate_cancel", _WAIT, True),
    ("pause",): (_OPS + "pause", "pause", _WAIT, True),
    ("unpause",): (_OPS + "pause", "unpause", _WAIT, True),
    ("soft-reboot",): (_OPS + "pause", "soft_reboot", {}, True),
    ("reset",): (_OPS + "pause", "reset", {}, True),
    ("create", "vm"): (_OPS + "create", "vm", _CREATE_VM, True),
    ("create", "instancetype"): (_OPS + "create", "instancetype", {
        **_NAMESPACED, "--cpu": _s("cpu"), "--memory": _s("memory"), "--gpu": _l("gpu"),
        "--hostdevice": _l("hostdevice"), "--iothreadspolicy": _s("iothreadspolicy")}, True),
    ("create", "preference"): (_OPS + "create", "preference", {
        **_NAMESPACED, "--volume-storage-class": _s("volume_storage_class"), "--machine-type": _s("machine_type"),
        "--cpu-topology": _s("cpu_topology")}, True),
    ("delete",): (_OPS + "delete", "delete", {"--dry-run": _b("dry_run")}, True),
    ("apply",): (_OPS + "apply", "apply", {"-f": _l("filename"), "--filename": _l("filename"),
                                           "--dry-run": _b("dry_run")}, False),
    ("snapshot", "create"): (_OPS + "snapshot", "create", _SNAP_WAIT, True),
    ("snapshot", "list"): (_OPS + "snapshot", "list_", {}, True),
    ("snapshot", "restore"): (_OPS + "snapshot", "restore", _SNAP_WAIT, True),
    ("snapshot", "delete"): (_OPS + "snapshot", "delete", {}, True),
    ("get",): ("virtctl.cli.getting", "get", _GET, True),
    # an ssh ProxyCommand starts `port-forward --stdio` for every connection
    ("port-forward",): (_OPS + "guest", "port_forward", {"--stdio": _b("stdio"),
                                                         "--address": _s("address", "127.0.0.1")}, True),
    ("ssh",): (_OPS + "guest", "ssh", {**_SSH, "-c": _s("command"), "--command": _s("command")}, True),
    ("scp",): (_OPS + "guest", "scp", {**_SSH, "-r": _b("recursive"), "--recursive": _b("recursive"),
                                       "--preserve": _b("preserve")}, True),
    ("image-upload",): (_OPS + "image_upload", "image_upload", {
        "--insecure": _b("insecure"), "--uploadproxy-url": _s("uploadproxy_url"), "--pvc-name": _s("pvc_name"),
        "--pvc-size": _s("pvc_size"), "--size": _s("size"), "--storage-class": _s("storage_class"),
        "--access-mode": _s("access_mode"), "--block-volume": _b("block_volume"), "--volume-mode": _s("volume_mode"),
        "--image-path": _s("image_path"), "--archive-path": _s("archive_path"), "--no-create": _b("no_create"),
        "--wait-secs": _s("wait_secs", "300"), "--retry": _s("retry", "5"), "--force-bind": _b("force_bind"),
        "--datasource": _b("datasource"), "--default-instancetype": _s("default_instancetype"),
        "--default-instancetype-kind": _s("default_instancetype_kind"),
        "--default-preference": _s("default_preference"), "--default-preference-kind": _s("default_preference_kind"),
    }, True),
    ("version",): ("virtctl.cli.version_info", "version", {"--client": _b("client"), "-c": _b("client")}, False),
}


def parse(flags: Flags, argv: list[str], positional: bool = True) -> dict | None:
    """The ops function's keyword arguments for ``argv``, or None when the full parser must decide."""
    params: dict = {"args": []}
    for param, kind, default in flags.values():
        params[param] = [] if kind == LIST else default
    changed: set[str] = set()
    i, n = 0, len(argv)
    while i < n:
        tok = argv[i]
        i += 1
        if tok == "-" or not tok.startswith("-"):
            if not positional:
                return None
            params["args"].append(tok)
            continue
        value: object
        if tok.startswith("--"):
            key, eq, text = tok.partition("=")
            flag = flags.get(key)
            if flag is None:                        # also "--", --help and unknown flags
                return None
            if flag[1] == BOOL:
                if not eq:
                    text = "true"
                elif text.lower() not in TRUE + FALSE:
                    return None
            elif not eq:
                if i >= n:
                    return None
                text = argv[i]
                i += 1
        else:
            flag = flags.get(tok[:2])
            if flag is None:
                return None
            if flag[1] == BOOL:
                if len(tok) != 2:                   # -Aw, -w=1: bundles are the full parser's
                    return None
                text = "true"
            elif len(tok) > 2:
                text = tok[2:]                      # -oyaml
            else:
                if i >= n:
                    return None
                text = argv[i]
                i += 1
        param, kind = flag[0], flag[1]
        if kind == BOOL:
            if param in changed:                    # given twice: pflag and click disagree, let click say
                return None
            value = text.lower() in TRUE
        elif kind == INT:
            digits = text[1:] if text.startswith("-") else text
            if not (digits.isascii() and digits.isdigit()):
                return None
            value = int(text)
        elif kind == LIST:
            params[param].append(text)
            changed.add(param)
            continue
        else:
            value = text
        params[param] = value
        changed.add(param)
    params["changed"] = frozenset(changed)
    return params


def lookup(rest: list[str]) -> tuple[tuple[str, str, Flags, bool], list[str]] | None:
    """The declaration of the command ``rest`` names, and the words after its name."""
    for size in (2, 1):
        spec = COMMANDS.get(tuple(rest[:size]))
        if spec is not None and len(rest) >= size:
            return spec, rest[size:]
    return None


def run(rest: list[str]) -> int | None:
    """Run ``rest`` on the fast path and return its exit code, or None when it does not apply."""
    found = lookup(rest)
    if found is None:
        return None
    (module, function, flags, positional), argv = found
    params = parse(flags, argv, positional)
    if params is None:
        return None
    # __import__ with a fromlist returns the submodule itself; importlib is one import more
    getattr(__import__(module, fromlist=[function]), function)(**params)
    return 0
