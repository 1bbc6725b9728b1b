"""The embedded controller (standalone mode): API server, SQLite store, reconcilers, libvirt.

Imported only by ``virtctl local …`` and by tests; never on the CLI's start-up path.
"""

from importlib.util import find_spec as _find_spec

from virtctl.errors import ConfigError as _ConfigError

# what only standalone mode needs: the ``standalone`` extra (pyproject.toml), module → distribution
STANDALONE_MODULES = {"libvirt": "libvirt-python", "pycdlib": "pycdlib", "cryptography": "cryptography",
                      "jsonschema": "jsonschema", "urllib3": "urllib3"}
STANDALONE_HINT = "pip install 'virtctl[standalone]'"


def missing_standalone() -> list[str]:
    """The distributions of the ``standalone`` extra that are not installed."""
    return [dist for module, dist in STANDALONE_MODULES.items() if _find_spec(module) is None]


# every way into standalone mode (``local …``, the no-kubeconfig fallback) imports this package
# first: without the extra it stops here with one line instead of an ImportError deep inside
if missing_standalone():
    raise _ConfigError(f"standalone mode (the local controller) needs the standalone extra, not installed here "
                       f"(missing {', '.join(missing_standalone())}): {STANDALONE_HINT}")
