"""Run virtctl with ``console`` and ``vnc`` in its command table (used only while they are missing).

``VIRTCTL_TEST_ARGV0`` stands in for the program's own name (e.g. ``kubectl-virt``)."""

import os
import sys

from virtctl.cli import registry

registry.COMMANDS.setdefault("console", registry.Entry("console", "Connect to a console of a virtual machine instance.",
                                                       completes="vmi"))
registry.COMMANDS.setdefault("vnc", registry.Entry("vnc", "Open a vnc connection to a virtual machine instance.",
                                                   completes="vmi"))
if os.environ.get("VIRTCTL_TEST_ARGV0"):
    sys.argv[0] = os.environ["VIRTCTL_TEST_ARGV0"]

from virtctl.cli.main import run  # noqa: E402

run()
