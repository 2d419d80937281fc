"""Many regions as Ray tasks on a real local cluster: the result is IDENTICAL to the serial run.

Identical means bit for bit: the combined weights, every region's result (iterations,
history, margin errors), the joint tables, the first error raised and the warnings.
Chunks of 7 regions on 2 workers, so that chunks finish out of order.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _synthetic_regions import synthetic_regions, synthetic_seed
from personacal.calibrate import Margins, RayExecutor, calibrate, poststratify, rake, reconstruct_joint
from personacal.errors import ConvergenceError, ConvergenceWarning, InputError, UnknownCategoryError

N_REGIONS = 40
EXECUTOR = RayExecutor(workers=2, chunk_size=7)


@pytest.fixture(scope="module")
def regions():
    return synthetic_regions(N_REGIONS, seed=3)


def assert_same_regional(serial, parallel) -> None:
    pd.testing.assert_series_equal(parallel.weights, serial.weights, check_exact=True)
    assert list(parallel.results) == list(serial.results)
    assert parallel.method == serial.method
    for region, a in serial.results.items():
        b = parallel.results[region]
        pd.testing.assert_series_equal(b.weights, a.weights, check_exact=True)
        pd.testing.assert_series_equal(b.design_weights, a.design_weights, check_exact=True)
        assert (b.n_iter, b.converged, b.max_margin_error, b.region) == (a.n_iter, a.converged, a.max_margin_error,
                                                                          a.region)
        np.testing.assert_array_equal(b.history, a.history)
    pd.testing.assert_frame_equal(parallel.to_frame(), serial.to_frame(), check_exact=True)


def test_rake_by_region_on_ray_is_identical(ray_cluster, regions):
    sample, margins = regions
    serial = rake(sample, margins, by="region", weights="d", progress=False)
    parallel = rake(sample, margins, by="region", weights="d", progress=False, executor=EXECUTOR)
    assert_same_regional(serial, parallel)
    assert parallel.converged and len(parallel.results) == N_REGIONS


@pytest.mark.parametrize("method, bounds", [("linear", None), ("raking", (0.1, 10.0)), ("logit", (0.05, 20.0))])
def test_calibrate_by_region_on_ray_is_identical(ray_cluster, regions, method, bounds):
    sample, margins = regions
    # design weights that sum to each region's population, so that bounds on g = w/d are meaningful
    totals = pd.Series({r: m.total for r, m in margins.items()})
    sample = sample.assign(d=sample["d"] * sample["region"].map(totals) / sample.groupby("region")["d"].transform("sum"))
    kwargs = dict(by="region", weights="d", method=method, bounds=bounds, progress=False)
    assert_same_regional(calibrate(sample, margins, **kwargs), calibrate(sample, margins, executor="ray", **kwargs))


def test_poststratify_by_region_on_ray_is_identical(ray_cluster, regions):
    sample, margins = regions
    tables = {r: m[("age", "sex")] for r, m in margins.items()}  # strata: the age x sex cells
    serial = poststratify(sample, tables, by="region", weights="d", progress=False)
    assert_same_regional(serial, poststratify(sample, tables, by="region", weights="d", progress=False,
                                              executor=EXECUTOR))


@pytest.mark.parametrize("method", ["ipf", "independent"])
def test_reconstruct_joint_on_ray_is_identical(ray_cluster, regions, method):
    _, margins = regions
    seed = synthetic_seed(seed=3) if method == "ipf" else None
    kwargs = dict(seed=seed, method=method, smoothing=0.01 if method == "ipf" else 0.0, progress=False)
    serial = reconstruct_joint(margins, **kwargs)
    parallel = reconstruct_joint(margins, executor=EXECUTOR, **kwargs)
    pd.testing.assert_series_equal(parallel.table, serial.table, check_exact=True)
    assert parallel.table.index.equals(serial.table.index)
    pd.testing.assert_frame_equal(parallel.margin_errors, serial.margin_errors, check_exact=True)
    assert (parallel.regions, parallel.variables, parallel.converged, parallel.max_margin_error, parallel.notes) == (
        serial.regions, serial.variables, serial.converged, serial.max_margin_error, serial.notes)
    # one region alone (a Margins, not a mapping) keeps the single-region shape
    one = margins["C00005"]
    pd.testing.assert_series_equal(reconstruct_joint(one, executor=EXECUTOR, **kwargs).table,
                                   reconstruct_joint(one, **kwargs).table, check_exact=True)


def test_the_first_failing_region_raises_its_own_error(ray_cluster, regions):
    sample, margins = regions
    sample = sample.copy()
    # two bad regions in different chunks; the serial run stops at the earlier one (in margin order)
    for region in ("C00030", "C00009"):
        sample.loc[sample.index[sample["region"] == region][0], "sex"] = "X"
    with pytest.raises(UnknownCategoryError) as serial:
        rake(sample, margins, by="region", progress=False)
    with pytest.raises(UnknownCategoryError) as parallel:
        rake(sample, margins, by="region", progress=False, executor=EXECUTOR)
    assert str(parallel.value) == str(serial.value)
    assert "'X'" in str(parallel.value)
    assert any("Ray task" in note for note in parallel.value.__notes__)


def test_nonconvergence_raises_or_warns_as_in_the_serial_run(ray_cluster, regions):
    sample, margins = regions
    with pytest.raises(ConvergenceError) as serial:
        rake(sample, margins, by="region", max_iter=2, progress=False)
    with pytest.raises(ConvergenceError) as parallel:
        rake(sample, margins, by="region", max_iter=2, progress=False, executor=EXECUTOR)
    assert str(parallel.value) == str(serial.value)
    assert parallel.value.result.n_iter == 2  # the last iterate travels back with the error

    def messages(**kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = rake(sample, margins, by="region", max_iter=2, on_nonconvergence="warn", progress=False, **kwargs)
        return result, [(w.category, str(w.message)) for w in caught if issubclass(w.category, ConvergenceWarning)]

    (serial_result, serial_warnings), (parallel_result, parallel_warnings) = messages(), messages(executor=EXECUTOR)
    assert len(serial_warnings) == N_REGIONS
    assert parallel_warnings == serial_warnings
    assert_same_regional(serial_result, parallel_result)


def test_executor_errors_name_the_parameter(regions):
    sample, margins = regions
    with pytest.raises(InputError, match=r"`executor` of rake must be None, one of 'ray' or a RayExecutor; got 'dask'"):
        rake(sample, margins, by="region", executor="dask")
    with pytest.raises(InputError, match=r"`executor` of calibrate fits regions in parallel, so it needs `by`"):
        calibrate(sample, margins["C00001"], executor="ray")
    with pytest.raises(InputError, match=r"`executor` of reconstruct_joint .* method='bayes' pools them"):
        reconstruct_joint(margins, seed=synthetic_seed(), method="bayes", executor="ray")
    with pytest.raises(InputError, match=r"`workers` of RayExecutor must be None or an int >= 1; got 0"):
        RayExecutor(workers=0)
    with pytest.raises(InputError, match=r"`chunk_size` of RayExecutor must be None or an int >= 1; got 1.5"):
        RayExecutor(chunk_size=1.5)


def test_margins_fixture_is_what_the_regions_say(regions):
    # guard for the comparisons above: the synthetic regions are distinct and all present
    sample, margins = regions
    assert sorted(margins) == sorted(sample["region"].unique()) and len(margins) == N_REGIONS
    assert all(isinstance(m, Margins) and m.name == r for r, m in margins.items())
