"""``ssh (VM|VMI)`` and ``scp SRC DST``: the local OpenSSH client with ``port-forward --stdio`` as its
ProxyCommand, as Go virtctl does since v1.7 (docs/compatibility.md#ssh-and-scp). The exit status is
ssh's (scp's)."""

from __future__ import annotations

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app, with_params

app = new_app()

SSH_SHORT = "Open a SSH connection to a virtual machine instance."
SCP_SHORT = "SCP files from/to a virtual machine instance."
SSH_EXAMPLES = """  # Connect to 'testvmi':
  {{ProgramName}} ssh jdoe@vmi/testvmi [--identity-file=<path>]

  # Connect to 'testvm' in 'mynamespace' namespace
  {{ProgramName}} ssh jdoe@vm/testvm/mynamespace [--identity-file=<path>]

  # Specify a username and namespace:
  {{ProgramName}} ssh --namespace=mynamespace --username=jdoe vmi/testvmi

  # Run a command, with extra options for the local ssh client
  {{ProgramName}} ssh root@vm/testvm -t '-o StrictHostKeyChecking=no' -c 'uname -a'"""
SCP_EXAMPLES = """  # Copy a file to the remote home folder of user jdoe
  {{ProgramName}} scp myfile.bin jdoe@vmi/testvmi:myfile.bin

  # Copy a directory to the remote home folder of user jdoe
  {{ProgramName}} scp --recursive ~/mydir/ jdoe@vmi/testvmi:./mydir

  # Copy a file from the remote location to a local folder
  {{ProgramName}} scp jdoe@vmi/testvmi:myfile.bin ~/myfile.bin"""


# the flags ssh and scp share
SSH_PARAMS = {
    "username": (str, typer.Option("", "--username", "-l",
                                   help="--username=: Set this to the user you want to open the SSH connection as; "
                                        "If unassigned, this will be empty or the SSH default will apply")),
    "identity_file": (str, typer.Option("", "--identity-file", "-i",
                                        help="--identity-file=: Set the path to a private key used for "
                                             "authenticating to the server; If not provided, the client will try "
                                             "to use default identities")),
    "known_hosts": (str, typer.Option("", "--known-hosts",
                                      help="--known-hosts=: Set the path to the known_hosts file (no effect since "
                                           "the local ssh client is always used)")),
    "port": (int, typer.Option(22, "--port", "-p", help="--port=22: Specify a port on the VM to send SSH traffic to")),
    "local_ssh_opts": (list[str], typer.Option([], "--local-ssh-opts", "-t",
                                               help="--local-ssh-opts=[]: additional options to pass to the local "
                                                    "ssh client, e.g. -t '-o StrictHostKeyChecking=no'")),
    "local_ssh": (bool, typer.Option(True, "--local-ssh", hidden=True,
                                     help="--local-ssh=true: always true: the local ssh client is used")),
}


@app.command("ssh", cls=CobraCommand, short_help=SSH_SHORT, help=SSH_SHORT, epilog=SSH_EXAMPLES)
@with_params(SSH_PARAMS)
def ssh(
    ctx: typer.Context,
    args: list[str] = typer.Argument(None, metavar="(VM|VMI)", show_default=False),
    command: str = typer.Option("", "--command", "-c",
                                help="--command=: Specify a command to execute in the VM"),
    **params: object,
) -> None:
    from virtctl.cli.ops import guest

    guest.ssh(**call_params(ctx))


@app.command("scp", cls=CobraCommand, short_help=SCP_SHORT, help=SCP_SHORT, epilog=SCP_EXAMPLES)
@with_params(SSH_PARAMS)
def scp(
    ctx: typer.Context,
    args: list[str] = typer.Argument(None, metavar="SRC DST", show_default=False),
    recursive: bool = typer.Option(False, "--recursive", "-r",
                                   help="--recursive=false: Recursively copy entire directories"),
    preserve: bool = typer.Option(False, "--preserve",
                                  help="--preserve=false: Preserves modification times, access times, and modes "
                                       "from the original file"),
    **params: object,
) -> None:
    from virtctl.cli.ops import guest

    guest.scp(**call_params(ctx))
