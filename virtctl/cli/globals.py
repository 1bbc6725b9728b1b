"""Global (persistent) flags: accepted before or after the sub-command, as cobra's persistent flags
are (``virtctl -n foo get vm`` = ``virtctl get vm -n foo``).

They are taken out of argv before the command line parser sees it, so no command needs to declare
them; a command's own flag of the same name wins (``create vm --user`` is the cloud-init user).
"""

from __future__ import annotations

from virtctl.client.overrides import Overrides
from virtctl.errors import UsageError
from virtctl.model.record import Factory, Record


class GlobalFlag(Record, frozen=True):
    name: str
    short: str = ""
    takes_value: bool = True
    repeatable: bool = False
    default: str = ""
    help: str = ""
    attr: str = ""             # Overrides attribute; "" for flags kept on GlobalOptions


GLOBAL_FLAGS: tuple[GlobalFlag, ...] = (
    GlobalFlag("as", help="Username to impersonate for the operation. User could be a regular user or a service "
               "account in a namespace.", attr="impersonate"),
    GlobalFlag("as-group", repeatable=True, default="[]", help="Group to impersonate for the operation, this flag "
               "can be repeated to specify multiple groups.", attr="impersonate_groups"),
    GlobalFlag("as-uid", help="UID to impersonate for the operation.", attr="impersonate_uid"),
    GlobalFlag("certificate-authority", help="Path to a cert file for the certificate authority",
               attr="certificate_authority"),
    GlobalFlag("client-certificate", help="Path to a client certificate file for TLS", attr="client_certificate"),
    GlobalFlag("client-key", help="Path to a client key file for TLS", attr="client_key"),
    GlobalFlag("cluster", help="The name of the kubeconfig cluster to use", attr="cluster"),
    GlobalFlag("context", help="The name of the kubeconfig context to use", attr="context"),
    GlobalFlag("debug", takes_value=False, default="false", help="Print a traceback for unexpected errors"),
    GlobalFlag("disable-compression", takes_value=False, default="false",
               help="If true, opt-out of response compression for all requests to the server"),
    GlobalFlag("insecure-skip-tls-verify", takes_value=False, default="false",
               help="If true, the server's certificate will not be checked for validity. This will make your "
               "HTTPS connections insecure", attr="insecure_skip_tls_verify"),
    GlobalFlag("kubeconfig", help="Path to the kubeconfig file to use for CLI requests.", attr="kubeconfig"),
    GlobalFlag("namespace", "n", help="If present, the namespace scope for this CLI request", attr="namespace"),
    GlobalFlag("password", help="Password for basic authentication to the API server", attr="password"),
    GlobalFlag("proxy-url", help="If provided, this URL will be used to connect via proxy", attr="proxy_url"),
    GlobalFlag("request-timeout", default="0", help="The length of time to wait before giving up on a single "
               "server request. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h). "
               "A value of zero means don't timeout requests.", attr="request_timeout"),
    GlobalFlag("server", "s", help="The address and port of the Kubernetes API server", attr="server"),
    GlobalFlag("tls-server-name", help="Server name to use for server certificate validation. If it is not "
               "provided, the hostname used to contact the server is used", attr="tls_server_name"),
    GlobalFlag("token", help="Bearer token for authentication to the API server", attr="token"),
    GlobalFlag("user", help="The name of the kubeconfig user to use", attr="user"),
    GlobalFlag("username", help="Username for basic authentication to the API server", attr="username"),
    GlobalFlag("v", "v", default="2", help="log level for V logs"),
)

_BY_LONG = {f.name: f for f in GLOBAL_FLAGS}
_BY_SHORT = {f.short: f for f in GLOBAL_FLAGS if f.short}

# command paths whose own flags shadow a global flag of the same name
SHADOWED: dict[tuple[str, ...], frozenset[str]] = {
    ("create", "vm"): frozenset({"user"}),
    ("credentials", "add-ssh-key"): frozenset({"user"}),
    ("credentials", "remove-ssh-key"): frozenset({"user"}),
    ("credentials", "set-password"): frozenset({"user", "password"}),
}


class GlobalOptions(Record):
    overrides: Overrides = Factory(Overrides)
    verbosity: int = 2
    debug: bool = False
    given: set[str] = Factory(set)


def _bool_value(flag: str, value: str) -> bool:
    low = value.lower()
    if low in ("1", "t", "true"):
        return True
    if low in ("0", "f", "false", ""):
        return False
    raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: strconv.ParseBool: parsing '
                     f'"{value}": invalid syntax')


def _apply(opts: GlobalOptions, flag: GlobalFlag, value: str) -> None:
    opts.given.add(flag.name)
    if flag.name == "v":
        try:
            opts.verbosity = int(value)
        except ValueError:
            raise UsageError(f'invalid argument "{value}" for "-v, --v" flag: strconv.ParseInt: parsing '
                             f'"{value}": invalid syntax') from None
        return
    if flag.name == "debug":
        opts.debug = _bool_value(flag.name, value)
        return
    if not flag.attr:
        if not flag.takes_value:
            _bool_value(flag.name, value)
        return
    if flag.repeatable:
        getattr(opts.overrides, flag.attr).append(value)
    elif flag.takes_value:
        setattr(opts.overrides, flag.attr, value)
    else:
        setattr(opts.overrides, flag.attr, _bool_value(flag.name, value))


def _command_path(argv: list[str]) -> tuple[str, ...]:
    """The leading words of argv that name the command (skipping global flags and their values)."""
    words: list[str] = []
    i = 0
    while i < len(argv) and len(words) < 2:
        tok = argv[i]
        if tok == "--":
            break
        if tok.startswith("-") and tok != "-":
            flag = _match(tok)
            if flag is not None and flag.takes_value and "=" not in tok and not _attached_short(tok):
                i += 1
            elif flag is None and words:
                break            # a command's own flag: the path ends here
            i += 1
            continue
        words.append(tok)
        i += 1
    return tuple(words)


def _attached_short(tok: str) -> bool:
    return not tok.startswith("--") and len(tok) > 2


def _match(tok: str) -> GlobalFlag | None:
    if tok.startswith("--"):
        return _BY_LONG.get(tok[2:].split("=", 1)[0])
    return _BY_SHORT.get(tok[1:2]) if len(tok) >= 2 else None


def split_globals(argv: list[str]) -> tuple[GlobalOptions, list[str]]:
    """Take the global flags out of argv; return them and what is left for the command parser."""
    opts = GlobalOptions()
    path = _command_path(argv)
    shadowed: frozenset[str] = frozenset()
    for n in range(len(path), 0, -1):
        if path[:n] in SHADOWED:
            shadowed = SHADOWED[path[:n]]
            break
    rest: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            rest.extend(argv[i:])
            break
        flag = _match(tok) if tok.startswith("-") and tok != "-" else None
        if flag is None or flag.name in shadowed:
            rest.append(tok)
            i += 1
            continue
        if tok.startswith("--"):
            if "=" in tok:
                value = tok.split("=", 1)[1]
            elif not flag.takes_value:
                value = "true"
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise UsageError(f"flag needs an argument: --{flag.name}")
        else:
            if len(tok) > 2:
                if flag.takes_value:
                    value = tok[3:] if tok[2] == "=" else tok[2:]
                else:
                    rest.append(tok)     # a bundle of short bool flags belongs to the command
                    i += 1
                    continue
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise UsageError(f"flag needs an argument: '{flag.short}' in -{flag.short}")
        _apply(opts, flag, value)
        i += 1
    return opts, rest


def options_text() -> str:
    """The hidden ``options`` command's output: every global flag, cobra's FlagUsages layout."""
    rows = []
    for f in GLOBAL_FLAGS:
        left = (f"  -{f.short}, --{f.name}" if f.short else f"      --{f.name}")
        if f.takes_value:
            left += " stringArray" if f.repeatable else (" int" if f.name == "v" else " string")
        default = ""
        if f.name == "v":
            default = " (default 2)"
        elif f.name == "request-timeout":
            default = ' (default "0")'
        rows.append((left, f.help + default))
    width = max(len(left) for left, _ in rows)
    lines = ["The following options can be passed to any command:", ""]
    lines += [f"{left.ljust(width)}   {text}" for left, text in rows]
    return "\n".join(lines) + "\n"
