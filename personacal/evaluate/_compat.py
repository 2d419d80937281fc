"""One-release shims for the names evaluate renamed (issue 9: one vocabulary).

``level`` is the confidence level, ``interval_method`` how an interval is made, ``by`` the
region column and ``group`` the grouping columns. The old names keep working for one release
with a ``DeprecationWarning``; delete this module, and its decorators, in the release after.

* keyword parameters with one meaning: ``personacal._validation.renamed_parameters``;
* ``ci`` of :func:`poststratify_answers`, which named the interval *method* but is read as a
  level when a number is passed: :func:`ci_as_method_or_level`;
* fields and attributes of result classes: :func:`renamed_fields`.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable

from ..errors import InputError

__all__ = ["ci_as_method_or_level", "renamed_fields"]


def _warn(old: str, new: str, owner: str, stacklevel: int) -> None:
    warnings.warn(
        f"`{old}` of {owner} is deprecated and will be removed in the next release; use `{new}`",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def _move(kwargs: dict, old: str, new: str, owner: str) -> None:
    if new in kwargs:
        raise InputError(f"{owner} got both `{old}` and `{new}`; `{old}` is the old name of `{new}`: pass only `{new}`")
    _warn(old, new, owner, stacklevel=3)
    kwargs[new] = kwargs.pop(old)


def ci_as_method_or_level(fn: Callable) -> Callable:
    """Decorator: old ``ci=`` goes to ``interval_method`` (a string or None) or, as a number, to ``level``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "ci" in kwargs:
            value = kwargs["ci"]
            is_level = isinstance(value, numbers.Real) and not isinstance(value, bool)
            _move(kwargs, "ci", "level" if is_level else "interval_method", fn.__name__)
        return fn(*args, **kwargs)

    return wrapper


def renamed_fields(**old_to_new: str) -> Callable[[type], type]:
    """Class decorator for a result dataclass: its old field names construct and read it for one release.

    ``Result(old=value)`` becomes ``Result(new=value)`` and ``result.old`` returns ``result.new``,
    each with a ``DeprecationWarning``.
    """

    def decorate(cls: type) -> type:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    _move(kwargs, old, new, cls.__name__)
            init(self, *args, **kwargs)

        cls.__init__ = __init__
        for old, new in old_to_new.items():
            setattr(cls, old, property(_alias(cls.__name__, old, new), doc=f"Deprecated: use ``{new}``."))
        return cls

    return decorate


def _alias(owner: str, old: str, new: str) -> Callable:
    def read(self):
        _warn(old, new, owner, stacklevel=2)
        return getattr(self, new)

    return read
