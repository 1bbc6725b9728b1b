from virtctl.cli.main import run

run()
