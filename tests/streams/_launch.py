"""Run virtctl with ``console`` and ``vnc`` in its command table (used only while they are missing)."""

import sys

from virtctl.cli import registry

registry.COMMANDS.setdefault("console", registry.Entry("console", "Connect to a console of a virtual machine instance.",
                                                       completes="vmi"))
registry.COMMANDS.setdefault("vnc", registry.Entry("vnc", "Open a vnc connection to a virtual machine instance.",
                                                   completes="vmi"))

from virtctl.cli.main import run  # noqa: E402

run()
