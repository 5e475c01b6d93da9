"""Commands whose errors are one line (SPEC §5, §9: "Bad input: non-zero exit and a one-line
error"), argument errors included: argparse would print the usage too."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser


class OneLineErrorCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        raise_error = parser.error

        def one_line_error(message: str) -> None:
            if parser.called_from_command_line:
                parser.exit(2, f"CommandError: {message}\n")
            raise_error(message)

        parser.error = one_line_error  # type: ignore[method-assign]
        return parser
