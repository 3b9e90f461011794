"""Entry point: ``python main.py fit|validate|test|predict --config configs/digits.yaml``."""

from project.cli import cli_main

if __name__ == "__main__":
    cli_main()
