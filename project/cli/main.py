"""``python main.py fit|validate|test|predict --config CONFIG.yaml [--key=value ...]``: the entry point."""

import os
import sys

from lightning.pytorch.cli import ArgsType

from project.cli.argv import scan
from project.cli.checks_before import check_config_files
from project.cli.extra_commands import EXTRA_COMMANDS
from project.cli.known_warnings import ignore_harmless_warnings
from project.cli.template_cli import TemplateCLI
from project.errors import DEBUG_ENV, user_errors_exit_2


def cli_main(args: ArgsType = None) -> None:
    """Run the CLI; ``args`` replaces ``sys.argv[1:]`` (tests call ``cli_main(["fit", ...])``).

    User mistakes end with exit status 2 and one message (see ``project.errors``).
    """
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] in EXTRA_COMMANDS:  # not Trainer methods, so not LightningCLI subcommands
        EXTRA_COMMANDS[argv[0]](argv[1:])
        return
    line = scan(argv)
    if line.debug:
        os.environ[DEBUG_ENV] = "1"  # Lightning's ddp launcher re-runs the command in children with this env
    if args is None:
        sys.argv[1:] = line.args  # the ddp launcher re-runs sys.argv
    ignore_harmless_warnings()
    with user_errors_exit_2():
        check_config_files(line.config_files)
        TemplateCLI(args=line.args, command_line=line)
