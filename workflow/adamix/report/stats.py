"""Statistics of the reproduction: 95% Student-t intervals over seeds, and the per-seed
comparison of two runs with its verdict (holds, does not hold, inconclusive).

numpy, pandas and scipy's t quantiles; adamix.report.claims applies these to the paper's
claims.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from adamix.report.render import count

HOLDS, FAILS, UNCLEAR, NOT_RUN = "holds", "does not hold", "inconclusive", "not run"
HUGE = 0.5  # with one seed, only a difference beyond 50% of the reference counts

# ------------------------------------------------------------------ intervals


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}, the two-sided 95% quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return float(scipy.stats.t.ppf(0.975, df))


def t_interval(values: Iterable[float]) -> tuple[float, float]:
    """95% confidence interval of the mean of the finite values (Student's t); NaN with
    fewer than two. Also seaborn's `errorbar` in adamix.report.figures, so bands match tables."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan
    half = t_quantile_975(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return x.mean() - half, x.mean() + half


def log_interval(values: Iterable[float]) -> tuple[float, float]:
    """95% confidence interval of the geometric mean of the positive finite values: exp of
    the t_interval of their logs. Positive by construction, where a t-interval of the values
    themselves can reach below 0 (few values, a wide spread); NaN with fewer than two."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    low, high = t_interval(np.log(x))
    return math.exp(low), math.exp(high)


def geometric_mean(values: Iterable[float]) -> float:
    """exp of the mean log of the positive finite values (NaN without any): the centre of
    log_interval."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.exp(np.log(x).mean())) if x.size else math.nan


def positive_interval(values: Iterable[float]) -> dict:
    """gmean (geometric mean) and its 95% interval ci95_low, ci95_high (log_interval): the
    interval of a positive quantity, seconds, that never reaches below 0."""
    values = list(values)
    low, high = log_interval(values)
    return {"gmean": geometric_mean(values), "ci95_low": low, "ci95_high": high}


def prediction_interval(mean: float, std: float, n: int) -> tuple[float, float]:
    """95% prediction interval for one more run, from n runs' mean and std (ddof=1):
    mean +- t(0.975, n-1) std sqrt(1 + 1/n). What a single run (the paper's) is compared
    with; NaN with fewer than two runs."""
    if not n >= 2 or not math.isfinite(std):
        return math.nan, math.nan
    half = t_quantile_975(int(n) - 1) * std * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


def describe(values: Iterable[float]) -> dict:
    """n, mean, std (ddof=1) and 95% t-CI of the finite values."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    low, high = t_interval(x)
    return {
        "n": int(x.size),
        "mean": float(x.mean()) if x.size else math.nan,
        "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
        "ci95_low": low,
        "ci95_high": high,
    }


# ------------------------------------------------------------------ comparisons


@dataclass(frozen=True)
class Paired:
    """Per-seed differences a - b of two runs sharing seeds (and so pre-training).
    +inf: only a diverged on that seed; -inf: only b did. `ref`: mean of b's finite values,
    the scale of "huge" and of equivalence margins."""

    diffs: np.ndarray
    ref: float

    @property
    def finite(self) -> np.ndarray:
        return self.diffs[np.isfinite(self.diffs)]

    def __str__(self) -> str:
        f = self.finite
        text = f"{f.mean():+.3g}" if f.size else "n/a"
        if f.size >= 2:
            low, high = t_interval(f)
            text += f" [{low:+.3g}, {high:+.3g}]"
        text += f" (n={f.size}"
        if lost := int(np.isinf(self.diffs).sum()):
            text += f"; {count(lost, 'seed')} where one run diverged"
        return text + ")"


def paired(a: pd.Series, b: pd.Series) -> Paired:
    """Pair two runs' per-seed values (Series indexed by seed). Seeds missing from either
    (NaN) and seeds where both diverged (both +inf) carry no information and are dropped."""
    both = pd.concat([a, b], axis=1, keys=["a", "b"]).astype(float).dropna()
    both = both[~(np.isinf(both["a"]) & np.isinf(both["b"]))]
    ref = both["b"][np.isfinite(both["b"])].mean()
    return Paired((both["a"] - both["b"]).to_numpy(), float(ref))


def direction(p: Paired) -> int:
    """-1: a is reliably below b; +1: reliably above; 0: unclear. Reliably: the 95% t-CI
    of the mean difference excludes 0 (one seed: the difference exceeds HUGE x ref), and
    every seed where only one run diverged (a loss for that run) agrees."""
    signs = {int(s) for s in np.sign(p.diffs[np.isinf(p.diffs)])}
    f = p.finite
    if f.size >= 2:
        low, high = t_interval(f)
        signs.add(-1 if high < 0 else 1 if low > 0 else 0)
    elif f.size == 1:
        signs.add(int(np.sign(f[0])) if abs(f[0]) > HUGE * abs(p.ref) else 0)
    return signs.pop() if len(signs) == 1 else 0


def lower(p: Paired) -> str:
    """Verdict on "a is lower than b"."""
    return {-1: HOLDS, 1: FAILS, 0: UNCLEAR}[direction(p)]


def higher(p: Paired) -> str:
    """Verdict on "a is higher than b"."""
    return {1: HOLDS, -1: FAILS, 0: UNCLEAR}[direction(p)]


def close(p: Paired, margin: float) -> str:
    """Verdict on "a is within ±margin x ref of b": holds when the 95% t-CI of the mean
    difference lies inside; does not hold when it lies wholly outside, when one run
    diverged on some seed, or (one seed) when the difference exceeds HUGE x ref."""
    m = margin * abs(p.ref)
    if np.isinf(p.diffs).any():
        return FAILS
    f = p.finite
    if f.size >= 2:
        low, high = t_interval(f)
        if -m <= low and high <= m:
            return HOLDS
        return FAILS if low > m or high < -m else UNCLEAR
    if f.size == 1 and abs(f[0]) > HUGE * abs(p.ref):
        return FAILS
    return UNCLEAR


def means_text(wide: pd.DataFrame, columns: Sequence) -> str:
    """Each column's mean over its finite values (rows: seeds; +inf: diverged), as the
    claims' numbers state them: "means: a 8.1, b 7.9 (1 diverged)"."""
    parts = []
    for c in columns:
        x = wide[c].astype(float)
        text = f"{c} {x[np.isfinite(x)].mean():.4g}"
        if lost := int(np.isinf(x).sum()):
            text += f" ({lost} diverged)"
        parts.append(text)
    return "means: " + ", ".join(parts)


def combine(verdicts: Iterable[str]) -> str:
    """All hold: holds; any does not hold: does not hold; otherwise inconclusive."""
    verdicts = list(verdicts)
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return FAILS if FAILS in verdicts else UNCLEAR
