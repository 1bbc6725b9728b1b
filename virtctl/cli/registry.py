"""The static command table: names, one-line help and the module that implements each command.

Known without importing any command module, so root help and TAB completion of command names
cost nothing; only the invoked command's module is imported (docs/architecture.md#start-up-cost).
"""

from __future__ import annotations

from virtctl.model.record import Record


class Entry(Record, frozen=True):
    module: str                  # under virtctl.cli.commands
    short: str
    hidden: bool = False
    # what positional arguments complete to: "vm", "vmi", "kind", "pause" (vm|vmi then a name) …
    completes: str = ""


COMMANDS: dict[str, Entry] = {
    "addvolume": Entry("volumes", "add a volume to a running VM", completes="vmi"),
    "apply": Entry("apply", "Create or update KubeVirt objects from YAML or JSON files."),
    "console": Entry("console", "Connect to a console of a virtual machine instance.", completes="vmi"),
    "completion": Entry("completion", "Generate the autocompletion script for the specified shell"),
    "create": Entry("create", "Create a manifest for the specified Kind."),
    "credentials": Entry("credentials", "Manipulate credentials on a virtual machine."),
    "delete": Entry("delete", "Delete KubeVirt objects by kind and name.", completes="kind"),
    "expose": Entry("expose", "Expose a virtual machine instance, virtual machine, or virtual machine instance "
                              "replica set as a new service.", completes="kind"),
    "fslist": Entry("guestinfo", "Return full list of filesystems available on the guest machine.", completes="vmi"),
    "get": Entry("get", "Display one or many KubeVirt objects.", completes="kind"),
    "image-upload": Entry("image_upload", "Upload a VM image to a DataVolume/PersistentVolumeClaim."),
    "guestosinfo": Entry("guestinfo", "Return guest agent info about operating system.", completes="vmi"),
    "local": Entry("local", "Run and manage the local virtctl controller (standalone mode)."),
    "memory-dump": Entry("memorydump", "Dump the memory of a running VM to a pvc"),
    "migrate": Entry("lifecycle", "Migrate a virtual machine.", completes="vm"),
    "migrate-cancel": Entry("lifecycle", "Cancel migration of a virtual machine.", completes="vm"),
    "options": Entry("options", "Print the list of flags inherited by all commands", hidden=True),
    "pause": Entry("pause", "Pause a virtual machine", completes="pause"),
    "port-forward": Entry("port_forward", "Forward local ports to a virtualmachine or virtualmachineinstance."),
    "removevolume": Entry("volumes", "remove a volume from a running VM", completes="vmi"),
    "reset": Entry("pause", "Reset a virtual machine instance.", completes="vmi"),
    "restart": Entry("lifecycle", "Restart a virtual machine.", completes="vm"),
    "scp": Entry("ssh", "SCP files from/to a virtual machine instance."),
    "snapshot": Entry("snapshot", "Create, list, restore and delete snapshots of virtual machines."),
    "soft-reboot": Entry("pause", "Soft reboot a virtual machine instance", completes="vmi"),
    "start": Entry("lifecycle", "Start a virtual machine.", completes="vm"),
    "ssh": Entry("ssh", "Open a SSH connection to a virtual machine instance."),
    "stop": Entry("lifecycle", "Stop a virtual machine.", completes="vm"),
    "unpause": Entry("pause", "Unpause a virtual machine", completes="pause"),
    "userlist": Entry("guestinfo", "Return full list of logged in users on the guest machine.", completes="vmi"),
    "vmexport": Entry("vmexport", "Export a VM volume."),
    "vnc": Entry("vnc", "Open a vnc connection to a virtual machine instance.", completes="vmi"),
    "version": Entry("version", "Print the client and server version information."),
}

HELP_ENTRY = Entry("", "Help about any command")


def visible() -> list[tuple[str, str]]:
    """(name, short help) for the root help's "Available Commands", cobra order (sorted, with help)."""
    rows = [(n, e.short) for n, e in COMMANDS.items() if not e.hidden]
    rows.append(("help", HELP_ENTRY.short))
    return sorted(rows)


# sub-commands of the command groups, for completion without importing them
SUBCOMMANDS: dict[str, dict[str, str]] = {
    "create": {"vm": "Create a VirtualMachine manifest.",
               "instancetype": "Create VirtualMachineInstancetype or VirtualMachineClusterInstancetype manifest.",
               "preference": "Create VirtualMachinePreference or VirtualMachineClusterPreference manifest."},
    "credentials": {"add-ssh-key": "Add credentials to a virtual machine.",
                    "remove-ssh-key": "Remove credentials from a virtual machine.",
                    "set-password": "Set password for a user"},
    "local": {"serve": "Run the local controller in the foreground.",
              "up": "Start the local controller in the background (if not running) and print how to use it.",
              "down": "Stop the local controller.",
              "status": "Show whether the local controller runs, and where.",
              "pull": "Pull an image into the local controller's image cache."},
    "snapshot": {"create": "Create a snapshot of a virtual machine.",
                 "list": "List snapshots, of one virtual machine or all.",
                 "restore": "Restore a virtual machine from a snapshot.",
                 "delete": "Delete a snapshot."},
    "vnc": {"screenshot": "Create a screenshot of the VNC display of a virtual machine instance."},
    "completion": {"bash": "Generate the autocompletion script for bash",
                   "zsh": "Generate the autocompletion script for zsh",
                   "fish": "Generate the autocompletion script for fish",
                   "powershell": "Generate the autocompletion script for powershell"},
}


def root_help(prog: str) -> str:
    """Root help as cobra prints it (docs/compatibility.md#help-and-program-name)."""
    rows = visible()
    width = max([len(n) for n, _ in rows] + [11])          # cobra's minimum name padding
    lines = [f"{prog} controls virtual machine related operations on your kubernetes cluster.", "",
             "Available Commands:"]
    lines += [f"  {n.ljust(width)} {h}" for n, h in rows]
    lines += ["", f'Use "{prog} <command> --help" for more information about a given command.',
              f'Use "{prog} options" for a list of global command-line options (applies to all commands).', ""]
    return "\n".join(lines)


# the order Go virtctl adds its commands in (cobra suggests in that order); ours that Go lacks follow
GO_ORDER = ("permitted-devices", "console", "usbredir", "vnc", "config", "scp", "ssh", "port-forward", "start",
            "stop", "restart", "migrate", "migrate-cancel", "guestosinfo", "userlist", "fslist", "addvolume",
            "removevolume", "expand", "evacuate-cancel", "memory-dump", "pause", "unpause", "soft-reboot", "reset",
            "expose", "version", "image-upload", "guestfs", "vmexport", "create", "credentials", "adm", "objectgraph",
            "template", "completion")


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, case-insensitive (cobra's ``ld(s, t, true)``)."""
    a, b = a.lower(), b.lower()
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[len(b)]


def suggestions(typed: str) -> list[str]:
    """cobra's SuggestionsFor: visible commands within distance 2 of ``typed``, or starting with it."""
    names = [n for n, e in COMMANDS.items() if not e.hidden]
    names.sort(key=lambda n: (GO_ORDER.index(n) if n in GO_ORDER else len(GO_ORDER), n))
    return [n for n in names if _distance(typed, n) <= 2 or n.lower().startswith(typed.lower())]


def unknown_command(typed: str, path: str, suggest: bool = True) -> str:
    """cobra's error for an unknown sub-command, with its "Did you mean this?" list (of the root's
    commands: ``suggest`` is for the root only)."""
    found = suggestions(typed) if suggest else []
    hint = "\n\nDid you mean this?\n" + "".join(f"\t{s}\n" for s in found) if found else ""
    return f'unknown command "{typed}" for "{path}"{hint}'
