"""The one parameter-checking helper: its constraints and its single message shape."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from personacal._validation import (
    InstanceOf,
    Interval,
    NonEmptyStr,
    Options,
    check_param,
    renamed_parameters,
    validate_params,
)
from personacal.errors import InputError


@pytest.mark.parametrize(
    "constraint, good, bad, text",
    [
        (Interval("real", 0, None, closed="neither"), 1e-9, 0.0, r"a finite number > 0"),
        (Interval("real", 0, 1, closed="neither"), 0.95, 1.0, r"a finite number in \(0, 1\)"),
        (Interval("int", 1, None), 3, 0, r"an int >= 1"),
        (Interval("int", 1, None), np.int64(5), 2.0, r"an int >= 1"),
        (Options(("raise", "warn")), "warn", "ignore", r"one of 'raise', 'warn'"),
        (InstanceOf(str, name="a column name"), "age", 3, r"a column name"),
    ],
)
def test_constraints_accept_and_reject_with_one_message_shape(constraint, good, bad, text):
    assert check_param("f", "p", good, constraint) is good
    with pytest.raises(InputError, match=rf"^`p` of f must be {text}; got "):
        check_param("f", "p", bad, constraint)


def test_bool_and_nan_are_not_numbers():
    for bad in (True, float("nan"), float("inf")):
        with pytest.raises(InputError, match=r"`tol` of rake must be a finite number > 0; got"):
            check_param("rake", "tol", bad, Interval("real", 0, None, closed="neither"))


def test_none_in_the_list_allows_none_and_is_named():
    assert check_param("f", "n", None, [Interval("int", 1, None), None]) is None
    with pytest.raises(InputError, match=r"`n` of f must be an int >= 1 or None; got -1"):
        check_param("f", "n", -1, [Interval("int", 1, None), None])


def test_decorator_checks_bound_arguments_and_defaults():
    @validate_params({"level": Interval("real", 0, 1, closed="neither")})
    def estimate(x, *, level=0.95):
        return level

    assert estimate(1) == 0.95
    with pytest.raises(InputError, match=r"`level` of estimate must be a finite number in \(0, 1\); got 95"):
        estimate(1, level=95)


def test_decorator_refuses_constraints_on_unknown_parameters():
    with pytest.raises(TypeError, match=r"no parameters \['levle'\]"):
        @validate_params({"levle": Interval("real", 0, 1)})
        def estimate(x, *, level=0.95):
            return level


def test_renamed_parameter_warns_maps_and_refuses_both():
    @renamed_parameters(ci="level")
    def estimate(*, level=0.95):
        return level

    with pytest.warns(DeprecationWarning, match=r"`ci` of estimate is deprecated.*use `level`"):
        assert estimate(ci=0.9) == 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimate(level=0.8) == 0.8
    with pytest.raises(InputError, match=r"got both `ci` and `level`"):
        estimate(ci=0.9, level=0.8)


def test_a_narrower_error_class_keeps_the_message_shape():
    from personacal.errors import DataError

    with pytest.raises(DataError, match=r"^`year` of election_results must be one of 2016, 2020; got 2012$"):
        check_param("election_results", "year", 2012, Options((2016, 2020)), error=DataError)


def test_non_empty_string():
    assert check_param("f", "model", "gpt", NonEmptyStr) == "gpt"
    for bad in ("", "  ", None, 3):
        with pytest.raises(InputError, match=r"^`model` of f must be a non-empty string; got "):
            check_param("f", "model", bad, NonEmptyStr)
