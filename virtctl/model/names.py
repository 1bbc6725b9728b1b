"""Kubernetes name rules (apimachinery validation), with its messages."""

from __future__ import annotations

import re

DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63
DNS1035_LABEL_MAX = 63
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_LABEL_RE = re.compile(rf"^{_LABEL}$")


def _errors(name: str, limit: int, pattern: re.Pattern[str], format_message: str) -> list[str]:
    """apimachinery's IsDNS1123Subdomain / IsDNS1123Label / IsDNS1035Label: the length, then the form."""
    errs = []
    if len(name) > limit:
        errs.append(f"must be no more than {limit} characters")
    if not pattern.match(name):
        errs.append(format_message)
    return errs


def subdomain_errors(name: str) -> list[str]:
    """Problems with ``name`` as an RFC 1123 subdomain (object names), as Kubernetes words them."""
    return _errors(name, DNS1123_SUBDOMAIN_MAX, _SUBDOMAIN_RE,
                   "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                   "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def label_errors(name: str) -> list[str]:
    """Problems with ``name`` as an RFC 1123 label (namespaces, names used as host names)."""
    return _errors(name, DNS1123_LABEL_MAX, _LABEL_RE,
                   "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                   "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                   "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


_DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def dns1035_label_errors(name: str) -> list[str]:
    """Problems with ``name`` as a DNS-1035 label (Service names), as Kubernetes words them."""
    return _errors(name, DNS1035_LABEL_MAX, _DNS1035_RE,
                   "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                   "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                   "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def name_errors(rule: str, name: str) -> list[str]:
    """Problems with an object name under its kind's rule: "subdomain", "label" or "dns1035"."""
    if rule == "label":
        return label_errors(name)
    if rule == "dns1035":
        return dns1035_label_errors(name)
    return subdomain_errors(name)


def is_subdomain(name: str) -> bool:
    return not subdomain_errors(name)


def is_label(name: str) -> bool:
    return not label_errors(name)
