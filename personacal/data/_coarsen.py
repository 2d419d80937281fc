"""How the labels of one shipped variable map onto a coarser one (race4 -> race3, education -> education5)."""

from __future__ import annotations

from ..errors import InputError, MappingError
from . import _categories as C

__all__ = ["category_map"]


def _finest(variable: str) -> tuple[str, dict[str, str]]:
    """The finest variable ``variable`` is a coarsening of, and the map fine label -> its label."""
    if variable in C.COARSENINGS:
        fine, mapping = C.COARSENINGS[variable]
        return fine, dict(mapping)
    return variable, {label: label for label in C.CATEGORIES[variable]}


def category_map(source: str, target: str) -> dict[str, str]:
    """The label map from variable ``source`` to the same-or-coarser variable ``target``.

    Both must be shipped variables (see :func:`categories`) that coarsen the same finest
    variable (``race4`` and ``race3`` both coarsen ``race``). Every ``source`` label must
    fall into exactly one ``target`` label: ``race4`` -> ``race3`` works (Asian and Other
    become Other), ``education3`` -> ``education5`` does not ("No college degree" spans
    three education5 levels) and raises :class:`MappingError` naming the label.
    """
    func = "category_map"
    for name, value in (("source", source), ("target", target)):
        if value not in C.CATEGORIES:
            raise InputError(f"`{name}` of {func} must be one of {sorted(C.CATEGORIES)}; got {value!r}")
    fine_s, to_source = _finest(source)
    fine_t, to_target = _finest(target)
    if fine_s != fine_t:
        raise MappingError(
            f"`{source}` cannot be mapped onto `{target}`: they describe different variables "
            f"({fine_s!r} and {fine_t!r})"
        )
    mapping: dict[str, str] = {}
    for fine_label, source_label in to_source.items():
        target_label = to_target[fine_label]
        if mapping.setdefault(source_label, target_label) != target_label:
            spans = sorted({to_target[f] for f, s in to_source.items() if s == source_label})
            raise MappingError(
                f"`{source}` label {source_label!r} spans several `{target}` labels {spans}; "
                f"use a column at least as fine as `{target}`"
            )
    return mapping
