"""The command line: LightningCLI subclass (hooks only), its parser and messages, the checks it runs."""

from project.cli.main import cli_main
from project.cli.template_cli import TemplateCLI

__all__ = ["TemplateCLI", "cli_main"]
