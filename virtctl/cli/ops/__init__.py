"""What each command does once its flags are known, without the command-line parser.

Both the typer commands (:mod:`virtctl.cli.commands`) and the start-up fast path
(:mod:`virtctl.cli.fast`) call these functions with the same keyword arguments — the flags' values
plus ``changed``, the set of flags given on the command line — so the two paths cannot differ in
what a command does or prints. Nothing here imports typer, click, rich or yaml at module level
(docs/architecture.md#start-up-cost).
"""
