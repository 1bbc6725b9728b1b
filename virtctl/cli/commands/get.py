"""``get KIND [NAME…]``: like ``kubectl get`` for KubeVirt kinds (beyond Go virtctl)."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli import getting
from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app

app = new_app()


@app.command("get", cls=CobraCommand, short_help="Display one or many KubeVirt objects.",
             help="Display one or many KubeVirt objects (VMs, VMIs, migrations, snapshots, instancetypes …).",
             epilog="  # List the virtual machines of the current namespace\n  {{ProgramName}} get vm\n\n"
                    "  # Show one VM as YAML\n  {{ProgramName}} get vm my-vm -o yaml\n\n"
                    "  # Watch virtual machine instances in all namespaces\n  {{ProgramName}} get vmi -A -w")
def get(
    ctx: typer.Context,
    args: Optional[list[str]] = typer.Argument(None, metavar="KIND [NAME...]"),
    output: str = typer.Option("", "--output", "-o", help="Output format. One of: json|yaml|name|wide."),
    watch: bool = typer.Option(False, "--watch", "-w", help="After listing/getting the requested object, watch "
                               "for changes."),
    selector: str = typer.Option("", "--selector", "-l", help="Selector (label query) to filter on, supports '=', "
                                 "'==', and '!='.(e.g. -l key1=value1,key2=value2)."),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A", help="If present, list the requested "
                                        "object(s) across all namespaces."),
) -> None:
    getting.get(**call_params(ctx))
