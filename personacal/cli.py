"""The ``personacal`` console command.

Each subpackage contributes its subcommands through a ``register(subparsers)``
function in its private ``_cli`` module; this module only wires them together
and turns personacal's typed errors into one clear line and an exit code:
2 for bad input (an :class:`~personacal.errors.InputError` or a missing file: fix the
command or its files), 1 for a run that failed on good input (a fit that did not
converge, a backend that failed).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import InputError, PersonacalError

#: Modules that expose ``register(subparsers)``, in the order their commands are listed.
COMMAND_MODULES = (
    "personacal.calibrate._cli",
    "personacal.generate._cli",
    "personacal.simulate._cli",
    "personacal.evaluate._cli",
    "personacal.workflow._cli",
    "personacal.experiments._cli",
)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="personacal",
        description="Statistical calibration for LLM-generated persona populations.",
    )
    parser.add_argument("--version", action="version", version=f"personacal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that subpackage has no commands yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args) or 0)
    except PersonacalError as exc:
        print(f"personacal: error [{exc.code}]: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(exc, InputError) else EXIT_FAILED
    except FileNotFoundError as exc:
        print(f"personacal: error [file-not-found]: {exc.filename or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
