"""One way to check parameters: declared constraints, one helper, one message shape.

Every public entry point declares what each parameter may be, and :func:`check_params`
(or the :func:`validate_params` decorator) checks them at the boundary. The message is
always ``"`<param>` of <func> must be <constraint>; got <value>"``, so a user reads the
same sentence whichever function they called (scikit-learn's ``_param_validation``
habit). Renamed parameters keep working for one release through :func:`renamed_parameters`.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from .errors import InputError

__all__ = [
    "Interval",
    "Options",
    "InstanceOf",
    "Callable_",
    "NonEmptyStr",
    "check_param",
    "check_params",
    "validate_params",
    "renamed_parameters",
]


@dataclass(frozen=True)
class Interval:
    """A real or integer number between ``left`` and ``right`` (``None`` = unbounded).

    ``closed`` is "both", "left", "right" or "neither". ``kind`` is ``"real"`` (any finite
    int or float, not bool) or ``"int"`` (an integer, not bool).
    """

    kind: str
    left: float | None = None
    right: float | None = None
    closed: str = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            return False
        left_ok = self.left is None or (value >= self.left if self.closed in ("both", "left") else value > self.left)
        right_ok = self.right is None or (
            value <= self.right if self.closed in ("both", "right") else value < self.right
        )
        return left_ok and right_ok

    def __str__(self) -> str:
        noun = "an int" if self.kind == "int" else "a finite number"
        if self.left is None and self.right is None:
            return noun
        if self.right is None:
            op = ">=" if self.closed in ("both", "left") else ">"
            return f"{noun} {op} {self.left:g}"
        if self.left is None:
            op = "<=" if self.closed in ("both", "right") else "<"
            return f"{noun} {op} {self.right:g}"
        lb = "[" if self.closed in ("both", "left") else "("
        rb = "]" if self.closed in ("both", "right") else ")"
        return f"{noun} in {lb}{self.left:g}, {self.right:g}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (strings, usually)."""

    values: tuple

    def __init__(self, values: Iterable):
        object.__setattr__(self, "values", tuple(values))

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:  # unhashable or incomparable values are never options
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of one of ``types``; ``name`` is how the message calls it."""

    types: tuple
    name: str | None = None

    def __init__(self, *types: type, name: str | None = None):
        object.__setattr__(self, "types", tuple(types))
        object.__setattr__(self, "name", name)

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types and numbers.Number in self.types
        )

    def __str__(self) -> str:
        if self.name:
            return self.name
        names = [t.__name__ for t in self.types]
        return "an instance of " + " or ".join(names)


class _CallableConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


#: The constraint "any callable".
Callable_ = _CallableConstraint()


class _NonEmptyStrConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __str__(self) -> str:
        return "a non-empty string"


#: The constraint "a string with something other than whitespace in it".
NonEmptyStr = _NonEmptyStrConstraint()


def _describe(constraints: list) -> str:
    parts = ["None" if c is None else str(c) for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_param(func: str, name: str, value: Any, constraints: list | Any, *,
                error: type[InputError] = InputError) -> Any:
    """Raise ``error`` (an :class:`InputError`) unless ``value`` satisfies one of ``constraints``; return it.

    ``constraints`` is one constraint or a list of them; ``None`` in the list allows None.
    ``error`` names a narrower class where one fits, e.g. :class:`~personacal.errors.DataError`
    for a year the shipped data do not cover.
    """
    if not isinstance(constraints, list):
        constraints = [constraints]
    for c in constraints:
        if (c is None and value is None) or (c is not None and c.is_satisfied_by(value)):
            return value
    raise error(f"`{name}` of {func} must be {_describe(constraints)}; got {_shown(value)}")


def check_params(func: str, constraints: dict[str, list | Any], values: dict[str, Any], *,
                 error: type[InputError] = InputError) -> None:
    """Check every parameter named in ``constraints`` against its value in ``values``."""
    for name, allowed in constraints.items():
        check_param(func, name, values[name], allowed, error=error)


def validate_params(constraints: dict[str, list | Any], *, func: str | None = None) -> Callable:
    """Decorator: check the named parameters of every call before the body runs."""

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        label = func or fn.__name__
        unknown = set(constraints) - set(signature.parameters)
        if unknown:  # a typo here would silently skip a check
            raise TypeError(f"validate_params on {label}: no parameters {sorted(unknown)}")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_params(label, constraints, bound.arguments)
            return fn(*args, **kwargs)

        wrapper.__wrapped_constraints__ = constraints  # type: ignore[attr-defined]
        return wrapper

    return decorate


def renamed_parameters(**old_to_new: str) -> Callable:
    """Decorator: accept old keyword names for one release, with a ``DeprecationWarning``.

    ``@renamed_parameters(ci="level")`` maps ``f(ci=0.9)`` to ``f(level=0.9)``. Passing both
    names is an :class:`InputError`.
    """

    def decorate(fn: Callable) -> Callable:
        # a class's __init__ is named after its class ("OpenAIBackend"), as users call it
        name = fn.__qualname__.removesuffix(".__init__") if fn.__name__ == "__init__" else fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InputError(
                            f"{name} got both `{old}` and `{new}`; `{old}` is the old name of "
                            f"`{new}`: pass only `{new}`"
                        )
                    warnings.warn(
                        f"`{old}` of {name} is deprecated and will be removed in the next release; "
                        f"use `{new}`",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
