"""Statistics over seeds: Student-t intervals, paired differences to a reference variant and the
smallest difference a study can detect.

A study runs every variant on the same seeds (same pretraining, same sample order), so the
comparison of a variant with a reference is paired by seed. With n values per group the intervals
here are Student-t intervals, exact for normal data at any n (a percentile bootstrap of the mean
covers the true mean about 77 % of the time at n = 3 for a nominal 95 %). NumPy, SciPy and pandas
only. A ``confidence``, ``power`` or ``alpha`` that is not a number in (0, 1), a negative ``sd`` or
``n``, a ``by`` given as one string, a missing ``value`` column or a non-numeric one raise TypeError
or ValueError naming it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats

from dassdp.analysis.table_checks import numeric_column, require_columns, require_names
from dassdp.checks import check_count, check_real

__all__ = ["DETECTABLE_POWER", "detectable_difference", "summarise", "t_interval"]

#: power at which `summarise` reports the detectable difference
DETECTABLE_POWER = 0.8


def _t_bounds(mean, sd, n, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise ``mean -/+ t_{(1+confidence)/2, n-1} sd / sqrt(n)``; NaN where n < 2."""
    check_real("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    enough = n >= 2
    df = np.where(enough, n - 1.0, 1.0)
    half = scipy.stats.t.ppf(0.5 * (1.0 + confidence), df) * sd / np.sqrt(np.where(enough, n, 1.0))
    half = np.where(enough, half, np.nan)
    return mean - half, mean + half


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the Student-t confidence interval of the mean of ``values``.

    With the n finite values (NaN and infinities are dropped), mean m and sample SD
    ``s = sqrt(sum (x - m)^2 / (n - 1))``, the interval is

        ``m -/+ t_{(1 + confidence)/2, n - 1} s / sqrt(n)``

    (Student 1908; e.g. Casella & Berger, *Statistical Inference*, 2nd ed., sect. 9.2.2), whose
    coverage is exactly ``confidence`` for independent normal values. The interval is NaN for
    n < 2 (the mean is NaN for n = 0) and the point ``(m, m)`` when all values are equal.
    """
    check_real("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    try:
        x = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"values must be numbers, got {type(values).__name__}") from None
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if x.size >= 2 and np.ptp(x) > 0 else 0.0
    low, high = _t_bounds(mean, sd, x.size, confidence)
    return mean, float(low), float(high)


@functools.lru_cache(maxsize=None)
def _noncentrality(n: int, power: float, alpha: float) -> float:
    """The noncentrality delta > 0 at which the two-sided one-sample t-test with n values reaches
    ``power`` (see `detectable_difference`)."""
    df = n - 1
    critical = scipy.stats.t.ppf(1.0 - alpha / 2.0, df)

    def shortfall(delta: float) -> float:
        # P(T < -c) as P(-T > c), -T ~ nct(df, -delta): scipy's nct.cdf far in the lower tail is NaN
        reject = scipy.stats.nct.sf(critical, df, delta) + scipy.stats.nct.sf(critical, df, -delta)
        return reject - power

    high = critical + scipy.stats.norm.ppf(power) + 1.0
    while shortfall(high) < 0.0:
        high *= 2.0
    return float(scipy.optimize.brentq(shortfall, 0.0, high, xtol=1e-12))


def detectable_difference(sd: float, n: int, power: float = DETECTABLE_POWER, alpha: float = 0.05) -> float:
    """The smallest true mean paired difference that a two-sided one-sample t-test at level
    ``alpha`` on ``n`` paired differences with SD ``sd`` detects with probability ``power``.

    The test rejects when ``|T| > c``, ``T = sqrt(n) mean(d) / s``, ``c = t_{1 - alpha/2, n - 1}``.
    For a true mean difference D, T follows the noncentral t distribution with n - 1 degrees of
    freedom and noncentrality ``delta = sqrt(n) D / sd``, so the power is

        ``P(T > c) + P(T < -c)``, T ~ nct(n - 1, delta)

    (Cohen 1988, *Statistical Power Analysis for the Behavioral Sciences*, ch. 2; the same
    computation as G*Power's and statsmodels' ``TTestPower``). This function solves
    power(delta) = ``power`` for delta with Brent's method and returns ``D = delta sd / sqrt(n)``.
    For large n, D approaches the normal approximation ``(z_{1 - alpha/2} + z_power) sd / sqrt(n)``;
    at small n it is larger (at n = 3 about twice, at n = 2 nearly six times). NaN for n < 2 or a
    non-finite ``sd`` (NaN: not estimable); ``n`` must be an integer ``>= 0``, ``sd`` not negative.
    """
    for name, value in (("sd", sd), ("power", power), ("alpha", alpha)):
        check_real(name, value)
    check_count("n", n)
    if not 0.0 < alpha < power < 1.0:
        raise ValueError(f"need 0 < alpha < power < 1, got alpha={alpha}, power={power}")
    if sd < 0:
        raise ValueError(f"sd must be >= 0, got {sd}")
    if n < 2 or not math.isfinite(sd):
        return float("nan")
    return _noncentrality(int(n), float(power), float(alpha)) * sd / math.sqrt(n)


def _describe(frame: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    """Per group of ``by``: mean, sample SD (exactly 0 when all values are equal) and the number of
    finite values of ``column``; groups without any finite value have n = 0."""
    values = frame[column].astype(float)
    values = values.where(np.isfinite(values))
    stats = values.groupby([frame[c] for c in by], sort=True, dropna=False).agg(["mean", "std", "count", "min", "max"])
    stats["std"] = stats["std"].where(stats["max"] > stats["min"], 0.0)
    return stats.rename(columns={"std": "sd", "count": "n"})[["mean", "sd", "n"]]


def summarise(
    metrics: pd.DataFrame,
    by: Sequence[str] = ("variant", "metric"),
    reference: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean and Student-t interval of ``value`` per group and, against a ``reference`` variant,
    the paired difference per seed.

    ``metrics`` is tidy: the columns of ``by`` that exist (others are ignored), ``value`` and, with
    a ``reference``, ``seed``. One row per group of ``by``, sorted by it:

    - ``mean``, ``ci_low``, ``ci_high``, ``n``: mean over the n finite values and its t-interval
      at ``confidence`` (`t_interval`);
    - with ``reference`` only (``by`` must contain ``variant``):

      - ``reference``: the reference variant's name;
      - ``diff``, ``diff_low``, ``diff_high``, ``n_pairs``: mean and t-interval of the paired
        differences ``d_s = value(variant, s) - value(reference, s)`` over the ``n_pairs`` seeds s
        where both values are finite; pairs are formed within the same values of the other ``by``
        columns (metric, ``point``, ``sweep.*``);
      - ``diff_sd``: the sample SD of the d_s;
      - ``detectable``: `detectable_difference` at ``n_pairs`` and ``diff_sd``, with power
        `DETECTABLE_POWER` and alpha = 1 - ``confidence`` (the test dual to the interval).

      The reference's own rows have ``diff`` = 0 and NaN interval, ``diff_sd`` and ``detectable``.
      Raises ValueError when a (group, seed) holds two values (add the column that separates
      them, e.g. ``point``, to ``by``) or the reference variant is absent.
    """
    require_columns("metrics", metrics, ["value"])
    numeric_column("metrics", metrics, "value")
    by = [c for c in require_names("by", by) if c in metrics.columns]
    check_real("confidence", confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    stats = _describe(metrics, by, "value")
    stats["ci_low"], stats["ci_high"] = _t_bounds(stats["mean"], stats["sd"], stats["n"], confidence)
    summary = stats[["mean", "ci_low", "ci_high", "n"]]
    if reference is not None:
        summary = summary.join(_paired(metrics, by, reference, confidence))
        summary["n_pairs"] = summary["n_pairs"].fillna(0).astype(int)
        summary.insert(summary.columns.get_loc("diff"), "reference", reference)
    return summary.reset_index()


def _paired(metrics: pd.DataFrame, by: list[str], reference: str, confidence: float) -> pd.DataFrame:
    """The difference columns of `summarise`, indexed by the groups of ``by``."""
    if "variant" not in by or "seed" not in metrics.columns:
        raise ValueError("paired differences need a 'variant' column in `by` and a 'seed' column")
    if not (metrics["variant"] == reference).any():
        variants = sorted(metrics["variant"].unique())
        raise ValueError(f"reference variant {reference!r} is not among {variants}")
    keys = [c for c in by if c != "variant"]
    twice = metrics.duplicated([*by, "seed"])
    if twice.any():
        first = metrics.loc[twice, [*by, "seed"]].iloc[0].to_dict()
        raise ValueError(f"two values for {first}: add the column that separates them to `by`")
    base = metrics.loc[metrics["variant"] == reference, [*keys, "seed", "value"]]
    pairs = metrics[[*by, "seed", "value"]].merge(base, on=[*keys, "seed"], suffixes=("", "_reference"))
    pairs["d"] = pairs["value"].astype(float) - pairs["value_reference"].astype(float)
    stats = _describe(pairs, by, "d")
    low, high = _t_bounds(stats["mean"], stats["sd"], stats["n"], confidence)
    alpha = 1.0 - confidence
    detectable = [detectable_difference(sd, n, alpha=alpha) for sd, n in zip(stats["sd"], stats["n"], strict=True)]
    paired = pd.DataFrame(
        {
            "diff": stats["mean"],
            "diff_low": low,
            "diff_high": high,
            "n_pairs": stats["n"],
            "diff_sd": stats["sd"].where(stats["n"] >= 2),
            "detectable": detectable,
        },
        index=stats.index,
    )
    own = paired.index.get_level_values("variant") == reference
    paired.loc[own, ["diff_low", "diff_high", "diff_sd", "detectable"]] = np.nan
    return paired
