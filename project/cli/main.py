"""``python main.py fit|validate|test|predict --config CONFIG.yaml [--key=value ...]``: the entry point."""

import sys

from lightning.pytorch.cli import ArgsType

from project.cli.checks_before import check_config_files
from project.cli.known_warnings import ignore_harmless_warnings
from project.cli.template_cli import TemplateCLI
from project.errors import take_debug_flag, user_errors_exit_2


def cli_main(args: ArgsType = None) -> None:
    """Run the CLI; ``args`` replaces ``sys.argv[1:]`` (tests call ``cli_main(["fit", ...])``).

    User mistakes end with exit status 2 and one message (see ``project.errors``).
    """
    if args is None:
        sys.argv[1:] = take_debug_flag(sys.argv[1:])
    elif isinstance(args, list):
        args = take_debug_flag(args)
    ignore_harmless_warnings()
    with user_errors_exit_2():
        check_config_files(args if isinstance(args, list) else sys.argv[1:])
        TemplateCLI(args=args)
