"""Split-conformal prediction: the finite-sample quantile, coverage on synthetic tasks, masking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from molssl.finetune.conformal import (
    ConformalCalibration,
    calibrate_classification,
    calibrate_regression,
    conformal_columns,
    conformal_quantile,
    coverage,
    format_sets,
    min_calibration,
    prediction_sets,
    regression_intervals,
    summarize,
)


def _truth(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * x) + 0.5 * x


def _model(x: np.ndarray) -> np.ndarray:
    """A fixed, deliberately imperfect regressor (the guarantee holds for any model)."""
    return 0.8 * np.sin(2 * x) + 0.4 * x + 0.1


def _draw(rng: np.random.Generator, n: int, noise_scale: float = 1.0):
    x = rng.uniform(-2, 2, size=n)
    noise = noise_scale * (0.2 + 0.3 * np.abs(x)) * rng.standard_normal(n)  # heteroscedastic
    return x, _truth(x) + noise


def test_quantile_is_the_ceil_n_plus_one_order_statistic():
    scores = np.arange(1.0, 100.0)  # n = 99
    assert conformal_quantile(scores, 0.9) == 90.0  # ceil(100 * 0.9) = 90, no float round-up
    assert conformal_quantile(np.arange(1.0, 51.0), 0.9) == 46.0  # ceil(51 * 0.9) = 46
    assert conformal_quantile(np.r_[np.arange(1.0, 51.0), np.nan], 0.9) == 46.0
    assert conformal_quantile(np.arange(1.0, 9.0), 0.9) == math.inf  # 8 < min_calibration
    assert conformal_quantile(np.arange(1.0, 10.0), 0.9) == 9.0
    assert min_calibration(0.9) == 9 and min_calibration(0.95) == 19
    with pytest.raises(ValueError, match="confidence"):
        conformal_quantile(scores, 90)


def test_regression_coverage_holds_over_many_draws():
    """Mean test coverage equals ceil((n+1)c)/(n+1) within 4 standard errors over 400 draws."""
    rng = np.random.default_rng(0)
    n_cal, n_test, draws, confidence = 50, 200, 400, 0.9
    covered, widths = [], []
    for _ in range(draws):
        x_cal, y_cal = _draw(rng, n_cal)
        x_test, y_test = _draw(rng, n_test)
        cal = calibrate_regression(y_cal, _model(x_cal), confidence)
        lo, hi = regression_intervals(_model(x_test), cal)
        covered.append(coverage(y_test, lo, hi)[0])
        widths.append(float(np.mean(hi - lo)))
    covered = np.asarray(covered)
    expected = math.ceil((n_cal + 1) * confidence) / (n_cal + 1)  # 46 / 51 = 0.902
    standard_error = covered.std(ddof=1) / math.sqrt(draws)
    assert abs(covered.mean() - expected) < 4 * standard_error, (covered.mean(), standard_error)
    assert covered.mean() < confidence + 1 / (n_cal + 1) + 4 * standard_error  # not trivially wide
    assert np.isfinite(widths).all() and np.mean(widths) < 3.0


def test_coverage_check_detects_a_shift():
    """The same recipe under a noise shift between calibration and test falls short of 0.9."""
    rng = np.random.default_rng(1)
    x_cal, y_cal = _draw(rng, 500)
    x_test, y_test = _draw(rng, 2000, noise_scale=2.0)
    cal = calibrate_regression(y_cal, _model(x_cal), 0.9)
    lo, hi = regression_intervals(_model(x_test), cal)
    assert coverage(y_test, lo, hi)[0] < 0.8


def test_classification_sets_cover_over_many_draws():
    rng = np.random.default_rng(2)
    n_cal, n_test, draws, confidence = 60, 200, 300, 0.9
    covered, sizes = [], []

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2.5 * x))).astype(float)
        return y, 1 / (1 + np.exp(-1.2 * x))  # a miscalibrated model's probabilities

    for _ in range(draws):
        y_cal, p_cal = sample(n_cal)
        y_test, p_test = sample(n_test)
        cal = calibrate_classification(y_cal, p_cal, confidence)
        sets = prediction_sets(p_test, cal)
        covered.append(coverage(y_test, sets)[0])
        sizes.append(sets.sum(-1).mean())
    covered = np.asarray(covered)
    expected = math.ceil((n_cal + 1) * confidence) / (n_cal + 1)
    standard_error = covered.std(ddof=1) / math.sqrt(draws)
    assert abs(covered.mean() - expected) < 4 * standard_error, (covered.mean(), standard_error)
    assert 1.0 < np.mean(sizes) < 2.0  # some singletons, some {0, 1}


def test_multitask_calibration_masks_missing_labels_per_target():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(80, 3))
    pred = y + rng.normal(scale=0.5, size=(80, 3))
    y[rng.uniform(size=80) < 0.4, 1] = np.nan
    y[:75, 2] = np.nan  # 5 labels: too few for 90%
    cal = calibrate_regression(y, pred, 0.9, targets=["a", "b", "c"])
    labelled = ~np.isnan(y[:, 1])
    alone = calibrate_regression(y[labelled, 1], pred[labelled, 1], 0.9)
    assert cal.n_calibration == (80, int(labelled.sum()), 5)
    assert cal.quantiles[1] == alone.quantiles[0]
    assert cal.quantiles[2] == math.inf
    lo, hi = regression_intervals(pred, cal)
    assert np.isinf(hi[:, 2]).all() and np.isfinite(hi[:, :2]).all()
    cov = coverage(y, lo, hi)
    assert cov[2] == 1.0 and 0.0 < cov[1] <= 1.0


def test_classification_sets_formatting_and_nan_rows():
    cal = ConformalCalibration("classification", 0.9, (0.3, 0.3), (50, 50), ("a", "b"))
    proba = np.array([[0.9, 0.5], [0.1, np.nan], [0.25, 0.75]])
    sets = prediction_sets(proba, cal)
    # p=0.9: score(1)=0.1 in, score(0)=0.9 out; p=0.5: both 0.5 > 0.3 -> empty set
    assert format_sets(sets).tolist() == [["1", ""], ["0", ""], ["0", "1"]]
    wide = ConformalCalibration("classification", 0.9, (0.8,), (50,), ("a",))
    assert format_sets(prediction_sets([0.5], wide)).tolist() == [["0|1"]]


def test_calibration_round_trips_and_rejects_bad_input():
    cal = calibrate_regression([1.0, 2.0] * 10, [1.5, 2.5] * 10, 0.9, targets=["y"])
    data = cal.to_dict()
    assert data["score"] == "absolute_residual" and data["quantiles"] == [0.5]
    assert ConformalCalibration.from_dict(data) == cal
    with pytest.raises(ValueError, match="lacks field"):
        ConformalCalibration.from_dict({"task_type": "regression"})
    with pytest.raises(ValueError, match="0 or 1"):
        calibrate_classification([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="sigmoid"):
        calibrate_classification([0, 1], [-3.0, 2.0])
    with pytest.raises(ValueError, match="target columns"):
        regression_intervals(np.zeros((3, 2)), cal)
    with pytest.raises(ValueError, match="needs a classification calibration"):
        prediction_sets([0.5], cal)


def test_same_intervals_and_sets_as_mapie():
    """MAPIE's split-conformal estimators compute the same thresholds for a single target."""
    pytest.importorskip("mapie")
    from mapie.classification import SplitConformalClassifier
    from mapie.regression import SplitConformalRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=400)
    fit, cal, new = slice(0, 100), slice(100, 173), slice(173, 400)
    reg = LinearRegression().fit(x[fit], y[fit])
    mapie = SplitConformalRegressor(reg, confidence_level=0.9, prefit=True)
    _, interval = mapie.conformalize(x[cal], y[cal]).predict_interval(x[new])
    lo, hi = regression_intervals(
        reg.predict(x[new]), calibrate_regression(y[cal], reg.predict(x[cal]))
    )
    np.testing.assert_allclose(np.c_[lo, hi], interval[:, :, 0], rtol=0, atol=1e-12)

    labels = (y > 0).astype(int)
    clf = LogisticRegression().fit(x[fit], labels[fit])
    mapie_c = SplitConformalClassifier(clf, confidence_level=0.9, prefit=True)
    _, sets = mapie_c.conformalize(x[cal], labels[cal]).predict_set(x[new])
    ours = calibrate_classification(labels[cal], clf.predict_proba(x[cal])[:, 1])
    np.testing.assert_array_equal(
        prediction_sets(clf.predict_proba(x[new])[:, 1], ours)[:, 0], sets[:, :, 0]
    )


def test_columns_for_predict_and_summary():
    reg = ConformalCalibration("regression", 0.9, (0.5, 1.0), (20, 20), ("logS", "pka"))
    pred = np.array([[1.0, 3.0], [np.nan, np.nan]])
    cols = conformal_columns(pred, reg)
    assert list(cols) == ["logS_lo", "logS_hi", "pka_lo", "pka_hi"]
    assert cols["logS_lo"][0] == 0.5 and cols["pka_hi"][0] == 4.0 and np.isnan(cols["logS_hi"][1])
    summary = summarize(
        np.array([[1.2, 5.0], [0.0, np.nan]]), np.array([[1.0, 3.0], [1.0, 3.0]]), reg
    )
    assert summary["per_target"]["logS"] == {"coverage": 0.5, "n": 2, "width": 1.0}
    assert summary["per_target"]["pka"]["coverage"] == 0.0 and summary["coverage"] == 0.25

    clf = ConformalCalibration("classification", 0.9, (0.3,), (20,), ("p_np",))
    assert conformal_columns(np.array([[0.9], [0.5]]), clf)["p_np_set"].tolist() == ["1", ""]
    summary = summarize(np.array([[1.0], [0.0]]), np.array([[0.9], [0.5]]), clf)
    assert summary["per_target"]["p_np"] == {"coverage": 0.5, "n": 2, "set_size": 0.5}
