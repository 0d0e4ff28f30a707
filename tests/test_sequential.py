"""The pre-registered stopping rule (adamix.report.sequential) on synthetic differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from adamix.report.sequential import detectable, holm, p_value, seeds_needed, verdicts
from adamix.report.stats import FAILS, HOLDS, UNCLEAR

CLEAR = [-1.0, -1.1, -0.9]  # mean -1, sd 0.1: t = -17.3 on 2 df
NOISY = [-1.0, 0.5, -0.2]


def test_a_decided_hypothesis_stops_and_an_undecided_one_gets_the_next_look():
    # CLEAR: p = 2 t_2(-17.32) = 0.0033 <= 0.05 / 3 (one hypothesis, three looks): holds
    p, sign = p_value(CLEAR)
    assert p == pytest.approx(2 * scipy.stats.t.cdf(-1 / (0.1 / math.sqrt(3)), 2)) and sign == -1
    assert verdicts({"a": CLEAR}) == {"a": HOLDS}
    assert seeds_needed({"a": CLEAR, "b": NOISY}) == {"a": 3, "b": 5}
    assert verdicts({"a": [1.0, 1.1, 0.9]}) == {"a": FAILS}


def test_seeds_never_exceed_the_cap():
    rng = np.random.default_rng(0)
    diffs = list(rng.normal(0.0, 1.0, 3))
    for look, then in ((3, 5), (5, 10), (10, 10)):
        diffs = diffs + list(rng.normal(0.0, 1.0, look - len(diffs)))
        assert verdicts({"h": diffs}) == {"h": UNCLEAR}
        assert seeds_needed({"h": diffs}) == {"h": then}
    with pytest.raises(ValueError, match="4 seeds, not one of the looks"):
        seeds_needed({"h": [0.1, 0.2, 0.3, 0.4]})


def test_holm_steps_down_until_a_p_value_is_too_large():
    # thresholds 0.05/4, 0.05/3, 0.05/2, 0.05: a and b pass, c (0.03 > 0.025) stops it
    assert holm({"a": 0.001, "b": 0.01, "c": 0.03, "d": 0.04}, 0.05) == {"a", "b"}
    assert holm({"a": 0.02, "b": 0.001}, 0.05) == {"a", "b"}  # 0.001 <= .025, 0.02 <= .05
    assert holm({"a": 0.03, "b": 0.04}, 0.05) == set()


def test_a_diverged_seed_is_a_loss_never_dropped():
    # a diverged on one seed (+inf) while it is below b on the others: the seeds disagree
    assert verdicts({"a": [math.inf, *CLEAR]}) == {"a": UNCLEAR}
    # b diverged on one seed (-inf for a - b): it agrees with a being below
    assert p_value([-math.inf, *CLEAR])[1] == -1
    assert verdicts({"a": [-math.inf, *CLEAR]}) == {"a": HOLDS}


def test_looking_again_keeps_the_error_rate_below_alpha():
    # No effect (mean 0): the share of simulated studies that decide anything at any of
    # the three looks stays below alpha = 0.05 (Bonferroni over the looks).
    rng = np.random.default_rng(1)
    wrong = 0
    for _ in range(2000):
        diffs = list(rng.normal(0.0, 1.0, 10))
        wrong += any(verdicts({"h": diffs[:n]})["h"] != UNCLEAR for n in (3, 5, 10))
    assert wrong / 2000 < 0.05


def test_the_smallest_detectable_effect_is_the_last_interval_s_half_width():
    d = [0.1, -0.2, 0.3, 0.0, -0.1, 0.2, 0.1, -0.3, 0.2, 0.0]
    t = scipy.stats.t.ppf(1 - 0.05 / 3 / 2, 9)
    assert detectable(d) == pytest.approx(t * np.std(d, ddof=1) / math.sqrt(10))
