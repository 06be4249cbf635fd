"""Student-t intervals, paired differences and detectable differences: coverage by simulation,
hand-computed values, the noncentral-t power against simulated t-tests and the pairing logic."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from dassdp.analysis.stats import detectable_difference, summarise, t_interval

REPLICATIONS = 4000


def _simulated(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, float], float]:
    """REPLICATIONS independent studies of n seeds, each with variants ``none`` and ``x`` whose
    values per seed are bivariate normal (correlation 0.6, SDs 0.05 and 0.08), and a metric of
    variant ``none`` only. Returns the tidy table, the true means and the true paired difference."""
    means = {"none": 0.60, "x": 0.64}
    sd_none, sd_x, rho = 0.05, 0.08, 0.6
    covariance = [[sd_none**2, rho * sd_none * sd_x], [rho * sd_none * sd_x, sd_x**2]]
    draws = rng.multivariate_normal([means["none"], means["x"]], covariance, size=(REPLICATIONS, n))
    rep, seed = np.meshgrid(np.arange(REPLICATIONS), np.arange(n), indexing="ij")
    frames = [
        pd.DataFrame(
            {
                "rep": rep.ravel(),
                "seed": seed.ravel(),
                "variant": variant,
                "metric": "ACC",
                "value": draws[..., k].ravel(),
            }
        )
        for k, variant in enumerate(("none", "x"))
    ]
    return pd.concat(frames, ignore_index=True), means, means["x"] - means["none"]


@pytest.mark.parametrize("n", [3, 5, 10])
def test_intervals_have_nominal_coverage(n):
    metrics, means, true_diff = _simulated(n, np.random.default_rng(1000 + n))
    summary = summarise(metrics, by=("rep", "variant", "metric"), reference="none")
    assert (summary.n == n).all() and len(summary) == 2 * REPLICATIONS
    truth = summary.variant.map(means)
    covered = (summary.ci_low <= truth) & (truth <= summary.ci_high)
    for variant, hits in covered.groupby(summary.variant):
        assert 0.93 <= hits.mean() <= 0.97, (variant, n, hits.mean())
    x = summary[summary.variant == "x"]
    assert (x.n_pairs == n).all()
    diff_covered = ((x.diff_low <= true_diff) & (true_diff <= x.diff_high)).mean()
    assert 0.93 <= diff_covered <= 0.97, (n, diff_covered)
    # t_interval gives the same numbers as summarise for one replication
    one = metrics[(metrics.rep == 7) & (metrics.variant == "x")].value
    row = summary[(summary.rep == 7) & (summary.variant == "x")].iloc[0]
    assert t_interval(one) == pytest.approx((row["mean"], row.ci_low, row.ci_high), rel=1e-12)


def test_t_interval_hand_values():
    # mean 2, s = 1, t_{0.975, 2} = 4.302652729749464 (Student-t tables), half = 4.3027 / sqrt(3)
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729749464 / math.sqrt(3.0)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half), rel=1e-12)
    # 90 %: t_{0.95, 3} = 2.353363434801823; values 0, 0, 1, 3: mean 1, s^2 = (1 + 1 + 0 + 4) / 3 = 2
    mean, low, high = t_interval([0.0, 0.0, 1.0, 3.0], confidence=0.9)
    half = 2.353363434801823 * math.sqrt(2.0) / 2.0
    assert (mean, low, high) == pytest.approx((1.0, 1.0 - half, 1.0 + half), rel=1e-12)
    # non-finite values are dropped; zero spread gives the point; n < 2 gives no interval
    assert t_interval([1.0, np.nan, 2.0, 3.0, np.inf]) == pytest.approx(t_interval([1.0, 2.0, 3.0]))
    mean, low, high = t_interval([0.175, 0.175, 0.175])
    assert low == mean == high == pytest.approx(0.175, rel=1e-15)
    single = t_interval([0.4])
    assert single[0] == 0.4 and np.isnan(single[1:]).all()
    assert np.isnan(t_interval([])).all()
    with pytest.raises(ValueError, match="confidence"):
        t_interval([1.0, 2.0], confidence=95)


def test_detectable_difference_large_n_matches_normal_approximation():
    z = scipy.stats.norm.ppf(0.975) + scipy.stats.norm.ppf(0.8)
    for n in (500, 5000):
        assert detectable_difference(0.03, n) == pytest.approx(z * 0.03 / math.sqrt(n), rel=2e-3)
    # at small n the t-test needs more than the normal approximation says
    assert detectable_difference(1.0, 3) > 1.9 * z / math.sqrt(3)
    assert detectable_difference(2.0, 5) == pytest.approx(2.0 * detectable_difference(1.0, 5), rel=1e-12)
    assert detectable_difference(0.0, 5) == 0.0
    assert np.isnan(detectable_difference(0.1, 1)) and np.isnan(detectable_difference(np.nan, 5))
    with pytest.raises(ValueError, match="alpha"):
        detectable_difference(0.1, 5, power=0.01)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_detectable_difference_has_the_stated_power_in_simulated_t_tests(n):
    rng = np.random.default_rng(n)
    d = detectable_difference(0.1, n)
    samples = rng.normal(d, 0.1, size=(REPLICATIONS, n))
    rejected = scipy.stats.ttest_1samp(samples, 0.0, axis=1).pvalue < 0.05
    assert rejected.mean() == pytest.approx(0.8, abs=0.025)
    # and only that power: half the difference is detected far less often
    half = scipy.stats.ttest_1samp(samples - d / 2, 0.0, axis=1).pvalue < 0.05
    assert half.mean() < 0.6


def test_detectable_difference_matches_statsmodels():
    from statsmodels.stats import power

    for n in (3, 5, 10, 40):
        effect = power.TTestPower().solve_power(nobs=n, alpha=0.05, power=0.8, alternative="two-sided")
        assert detectable_difference(1.0, n) == pytest.approx(effect, rel=1e-6)


def test_pairing_by_seed_within_point_and_metric():
    rows = []
    values = {  # (point, variant) -> value per seed; ssdp misses seed 2 at point 0, none misses seed 3
        (0, "none"): {0: 0.5, 1: 0.6, 2: 0.7},
        (0, "ssdp"): {0: 0.6, 1: 0.8, 3: 0.9},
        (1, "none"): {0: 0.1, 1: 0.2, 2: 0.3},
        (1, "ssdp"): {0: 0.1, 1: 0.2, 2: 0.3},
    }
    for (point, variant), per_seed in values.items():
        for seed, value in per_seed.items():
            rows.append({"point": point, "variant": variant, "seed": seed, "metric": "ACC", "value": value})
            # a second metric with the opposite sign must not mix with ACC
            rows.append({"point": point, "variant": variant, "seed": seed, "metric": "BWT", "value": -value})
    metrics = pd.DataFrame(rows).sample(frac=1.0, random_state=0)
    summary = summarise(metrics, by=("point", "variant", "metric"), reference="none")
    got = summary.set_index(["point", "variant", "metric"])
    ssdp = got.loc[(0, "ssdp", "ACC")]
    # means use every value of the group; the difference only seeds 0 and 1 (present in both)
    assert ssdp["mean"] == pytest.approx((0.6 + 0.8 + 0.9) / 3) and ssdp.n == 3
    assert ssdp.n_pairs == 2 and ssdp["diff"] == pytest.approx((0.1 + 0.2) / 2)
    assert ssdp.diff_sd == pytest.approx(np.std([0.1, 0.2], ddof=1))
    assert (ssdp.diff_low, ssdp.diff_high) == pytest.approx(t_interval([0.1, 0.2])[1:])
    assert ssdp.detectable == pytest.approx(detectable_difference(ssdp.diff_sd, 2))
    assert got.loc[(0, "ssdp", "BWT"), "diff"] == pytest.approx(-0.15)
    # at point 1 the variants agree on every seed: difference 0 with a point interval
    same = got.loc[(1, "ssdp", "ACC")]
    assert (same["diff"], same.diff_low, same.diff_high, same.detectable) == (0.0, 0.0, 0.0, 0.0)
    own = got.loc[(0, "none", "ACC")]
    assert own["diff"] == 0.0 and own.n_pairs == 3
    assert np.isnan([own.diff_low, own.diff_high, own.diff_sd, own.detectable]).all()
    assert (summary.reference == "none").all()
    # without the column that separates the points, the pairs are ambiguous
    with pytest.raises(ValueError, match="two values"):
        summarise(metrics, by=("variant", "metric"), reference="none")
    with pytest.raises(ValueError, match="'stdp' is not among"):
        summarise(metrics, by=("point", "variant", "metric"), reference="stdp")
    # no reference: only the per-group columns
    plain = summarise(metrics, by=("point", "variant", "metric"))
    assert list(plain.columns) == ["point", "variant", "metric", "mean", "ci_low", "ci_high", "n"]


def test_missing_values_leave_a_group_without_pairs():
    metrics = pd.DataFrame(
        {
            "variant": ["none", "none", "frozen", "frozen"],
            "seed": [0, 1, 0, 1],
            "metric": "synchrony",
            "value": [0.2, 0.3, np.nan, np.nan],
        }
    )
    got = summarise(metrics, reference="none").set_index("variant")
    assert got.loc["frozen", "n"] == 0 and np.isnan(got.loc["frozen", "mean"])
    assert got.loc["frozen", "n_pairs"] == 0 and np.isnan(got.loc["frozen", ["diff", "detectable"]]).all()
