"""The ``personacal`` console command.

Each subpackage contributes its subcommands through a ``register(subparsers)``
function in its private ``_cli`` module; this module only wires them together
and turns personacal's typed errors into one clear line and an exit code:
2 for bad input (an :class:`~personacal.errors.InputError` or a file that cannot be
read: fix the command or its files), 1 for a run that failed on good input (a fit
that did not converge, a backend that failed), 130 for Ctrl-C (with the number of
answers the cache holds and the command that resumes).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import shlex
import sys
from pathlib import Path

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
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


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
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(interrupted_line(argv, args), file=sys.stderr)
        return EXIT_INTERRUPTED
    except PersonacalError as exc:
        print(f"personacal: error [{exc.code}]: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(exc, InputError) else EXIT_FAILED
    except FileNotFoundError as exc:
        print(f"personacal: error [file-not-found]: {exc.filename or exc} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, UnicodeDecodeError) as exc:  # a file read outside personacal's readers
        where = getattr(exc, "filename", None)
        detail = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        print(f"personacal: error [file]: {where + ': ' if where else ''}{detail}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _command(argv: list[str]) -> str:
    """The command line that reruns this one, as the user typed it (console script or ``python -m``)."""
    if Path(sys.argv[0]).name in ("cli.py", "__main__.py"):
        program = ["python", "-m", "personacal.cli"]
    else:
        program = ["personacal"]
    return shlex.join([*program, *argv])


def interrupted_line(argv: list[str], args: argparse.Namespace) -> str:
    """The one line printed on Ctrl-C: what the answer caches hold and the command that resumes."""
    cache_module = sys.modules.get("personacal.backends._cache")  # no backend was built if it is not loaded
    caches = cache_module.ResponseCache.opened_in_this_process() if cache_module else []
    command = _command(argv)
    if caches:
        held = "; ".join(f"{total} answer(s) saved in {path} ({written} by this run)" for path, total, written in caches)
        return f"personacal: interrupted; {held}; the same command resumes from there: {command}"
    if getattr(args, "backend", None) is not None:
        return ("personacal: interrupted; no answers were saved (no --cache); to make a rerun resumable: "
                f"{command} --cache personacal-cache.sqlite")
    if getattr(args, "command", None) == "run":
        return (f"personacal: interrupted; no answer cache was open (set cache = \"answers.sqlite\" under [backend] "
                f"to make reruns resumable); rerun with: {command}")
    return f"personacal: interrupted; rerun with: {command}"


def entry() -> None:  # pragma: no cover - the console script; tests call main()
    """The ``personacal`` console script: :func:`main`, then an exit that does not linger."""
    code = main()
    if "vllm" in sys.modules:
        # After an offline engine ran, interpreter teardown spends seconds (10 on a busy 2-core box) in
        # C destructors of torch and the engine's memory. By now every file is written and every
        # backend closed; the Python-level exit handlers still run (weakref finalizers shut down any
        # engine left open), only the C teardown is skipped.
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
