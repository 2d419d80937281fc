"""Command line: ``python -m personacal.backends.tiny_model PATH [--seed N]``."""

from __future__ import annotations

import argparse

from ._tiny_model import build_tiny_model

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personacal.backends.tiny_model",
        description="Write a tiny random-weight Llama model (for offline smoke tests) to PATH.",
    )
    parser.add_argument("path", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    out = build_tiny_model(args.path, random_state=args.seed)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
