"""Seeds until decided: the stopping rule of the pre-registered analysis (docs/paper.md).

Seeds are added in looks (3, then 5, then 10 at most) only to the primary hypotheses
still undecided. At a look, the hypotheses share the family-wise ``ALPHA`` by Holm's
step-down procedure, and each look spends a third of it (Bonferroni over the looks), so
that looking again cannot raise the error rate. A hypothesis is the mean of per-seed
paired differences (a - b, a seed where one run diverged being +inf or -inf: that run's
loss) below 0 ("holds") or above it ("does not hold").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.stats

from adamix.report.stats import FAILS, HOLDS, UNCLEAR

ALPHA = 0.05
LOOKS = (3, 5, 10)


def p_value(diffs: Sequence[float]) -> tuple[float, int]:
    """Two-sided p-value of a mean paired difference of 0 (Student's t on the finite
    differences) and the sign of the evidence (-1, 0, +1). A diverged seed (+-inf) is a
    loss: all of them must agree with the finite differences' sign, else p = 1."""
    d = np.asarray(diffs, dtype=float)
    finite, losses = d[np.isfinite(d)], {int(x) for x in np.sign(d[np.isinf(d)])}
    if finite.size >= 2 and finite.std(ddof=1) > 0:
        result = scipy.stats.ttest_1samp(finite, 0.0)
        p, sign = float(result.pvalue), int(np.sign(finite.mean()))
    elif finite.size >= 2:  # every difference equal: decided by its sign alone
        p, sign = (0.0, int(np.sign(finite[0]))) if finite[0] != 0 else (1.0, 0)
    else:
        p, sign = 1.0, 0
    if losses and losses != {sign}:
        return 1.0, 0
    return p, sign


def holm(pvalues: Mapping[str, float], alpha: float) -> set[str]:
    """The hypotheses Holm's step-down procedure rejects at family-wise `alpha`."""
    rejected = set()
    for rank, (name, p) in enumerate(sorted(pvalues.items(), key=lambda kv: kv[1])):
        if p > alpha / (len(pvalues) - rank):
            break
        rejected.add(name)
    return rejected


def combined_p_value(parts: Mapping[str, Sequence[float]]) -> tuple[float, int]:
    """p-value and sign of a hypothesis that must hold in every part (claim 8 at every
    size), an intersection-union test: it leans below 0 with the largest part's p when
    every part does; above 0 when some part does, with the smallest such p times the
    number of parts (Bonferroni: one part is enough); else p = 1."""
    tested = [p_value(d) for d in parts.values()]
    if all(sign == -1 for _, sign in tested):
        return max(p for p, _ in tested), -1
    if against := [p for p, sign in tested if sign == 1]:
        return min(1.0, min(against) * len(tested)), 1
    return 1.0, 0


def p_value_of(d) -> tuple[float, int]:
    """p_value of a sequence of differences, combined_p_value of {part: sequence}."""
    return combined_p_value(d) if isinstance(d, Mapping) else p_value(d)


def verdicts(diffs: Mapping, alpha=ALPHA, looks=LOOKS) -> dict[str, str]:
    """Each hypothesis's verdict at this look: holds (mean below 0), does not hold (above)
    or inconclusive, with Holm across the hypotheses at alpha / len(looks). A hypothesis's
    differences are a sequence, or {part: sequence} when it must hold in every part."""
    tested = {name: p_value_of(d) for name, d in diffs.items()}
    rejected = holm({name: p for name, (p, _) in tested.items()}, alpha / len(looks))
    return {
        name: (HOLDS if sign < 0 else FAILS) if name in rejected and sign else UNCLEAR
        for name, (_, sign) in tested.items()
    }


def seeds_needed(diffs: Mapping, alpha=ALPHA, looks=LOOKS, counts=None) -> dict:
    """How many seeds each hypothesis runs with next: as many as it has once decided or
    at the last look; otherwise the next look's count. `counts`: the seeds each ran (by
    default its number of differences). ValueError if a hypothesis has a count that is
    not a look (the rule spends alpha at the looks only)."""
    decided = verdicts(diffs, alpha, looks)
    needed = {}
    for name, d in diffs.items():
        n = counts[name] if counts is not None else len(d)
        if n not in looks:
            raise ValueError(f"{name}: {n} seeds, not one of the looks {looks}")
        later = [k for k in looks if k > n]
        needed[name] = n if decided[name] != UNCLEAR or not later else later[0]
    return needed


def detectable(diffs: Sequence[float], alpha=ALPHA, looks=LOOKS, m: int = 1) -> float:
    """The smallest mean difference a look could tell from 0: the half-width of the
    two-sided t-interval at level alpha / looks / m, with m the hypotheses Holm's step-down
    divides by where it tests this one (1: the most lenient level)."""
    finite = np.asarray(diffs, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return math.nan
    level = alpha / len(looks) / m
    t = float(scipy.stats.t.ppf(1 - level / 2, finite.size - 1))
    return t * float(finite.std(ddof=1)) / math.sqrt(finite.size)
