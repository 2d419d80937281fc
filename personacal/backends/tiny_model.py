"""Deprecated: ``python -m personacal.backends.tiny_model`` is now ``python -m personacal.testing``."""

from __future__ import annotations

import warnings

from ..testing import main as _main

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    warnings.warn("`python -m personacal.backends.tiny_model` is deprecated and will be removed in the next "
                  "release; use `python -m personacal.testing`", DeprecationWarning, stacklevel=2)
    return _main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
