"""adamix.report.stats: Student-t quantiles and intervals, and the per-seed comparison of two
runs with its verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from adamix.report import stats
from adamix.report.stats import FAILS, HOLDS, UNCLEAR

T2 = 4.302653  # t_{0.975, 2}: 95% CI of a mean over 3 seeds


def test_t_quantile_matches_student_t():
    # printed tables of t_{0.975, df} (6 decimals), and the normal quantile for large df
    printed = {1: 12.706205, 2: T2, 5: 2.570582, 10: 2.228139, 30: 2.042272, 120: 1.979930}
    for df, value in printed.items():
        assert stats.t_quantile_975(df) == pytest.approx(value, abs=1e-6)
    assert stats.t_quantile_975(10**6) == pytest.approx(1.959964, abs=1e-5)
    assert isinstance(stats.t_quantile_975(3), float)
    with pytest.raises(ValueError):
        stats.t_quantile_975(0)


def test_t_interval():
    x = [8.0, 8.5, 9.1]
    half = T2 * np.std(x, ddof=1) / math.sqrt(3)
    assert stats.t_interval(x) == pytest.approx((np.mean(x) - half, np.mean(x) + half))
    assert all(math.isnan(v) for v in stats.t_interval([8.0]))
    assert stats.t_interval([8.0, math.inf, 9.0, math.nan]) == pytest.approx(
        stats.t_interval([8.0, 9.0])
    )


def test_describe_leaves_out_diverged_values():
    x = [8.0, 8.5, 9.1]
    got = stats.describe([*x, math.inf, math.nan])
    assert got["n"] == 3
    assert got["mean"] == pytest.approx(np.mean(x)) and got["std"] == pytest.approx(
        np.std(x, ddof=1)
    )
    assert (got["ci95_low"], got["ci95_high"]) == pytest.approx(stats.t_interval(x))
    one = stats.describe([8.0])
    assert one["n"] == 1 and one["mean"] == 8.0 and math.isnan(one["std"])
    assert math.isnan(stats.describe([math.inf])["mean"])


def test_paired_direction_and_close():
    a, b = pd.Series([1.0, 2.0, math.inf]), pd.Series([2.0, 3.0, 4.0])
    p = stats.paired(a, b)
    assert list(p.diffs) == [-1.0, -1.0, math.inf] and p.ref == 3.0
    assert str(p) == "-1 [-1, -1] (n=2; 1 seed where one run diverged)"
    assert stats.direction(p) == 0  # the finite seeds say lower, the diverged one higher
    assert stats.direction(stats.paired(a[:2], b[:2])) == -1  # zero spread, a clear sign
    both = stats.paired(pd.Series([math.inf, 1.0]), pd.Series([math.inf, 1.5]))
    assert list(both.diffs) == [-0.5]  # a seed where both diverged carries no information
    assert stats.close(stats.paired(pd.Series([1.0, 1.02]), pd.Series([1.0, 1.0])), 0.05) == UNCLEAR
    assert (
        stats.close(stats.paired(pd.Series([1.0, 1.01, 1.0]), pd.Series([1.0] * 3)), 0.05) == HOLDS
    )
    assert stats.combine([]) == UNCLEAR
    assert stats.combine([HOLDS, UNCLEAR, FAILS]) == FAILS


def test_log_interval_is_the_positive_interval_of_the_geometric_mean():
    # e, e and e^4: logs 1, 1, 4, mean 2, std sqrt(3); half-width T2 x sqrt(3) / sqrt(3) = T2
    values = [math.e, math.e, math.e**4, math.inf, -1.0]  # non-finite and non-positive left out
    low, high = stats.log_interval(values)
    assert low == pytest.approx(math.exp(2 - T2)) and high == pytest.approx(math.exp(2 + T2))
    assert stats.geometric_mean(values) == pytest.approx(math.e**2)
    assert stats.positive_interval(values) == pytest.approx(
        {"gmean": math.e**2, "ci95_low": math.exp(2 - T2), "ci95_high": math.exp(2 + T2)}
    )
    # where the t-interval of the values themselves reaches below 0
    assert stats.t_interval(values)[0] < 0 < low
    assert all(math.isnan(v) for v in stats.log_interval([3.0]))
    assert math.isnan(stats.geometric_mean([]))


def test_means_text_counts_the_diverged():
    wide = pd.DataFrame({"a": [1.0, 2.0, math.inf], "b": [4.0, 4.0, 4.0]})
    assert stats.means_text(wide, ["a", "b"]) == "means: a 1.5 (1 diverged), b 4"
