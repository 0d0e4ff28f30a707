"""Claim 2's controlled timing (rule step_timing, adamix.train.step_timing): the rows
measured, the noise floor of the measurement, and the verdict on "AdaMix+Power takes less
time than AdaGrad+AdaGrad and AdaDec+AdaDec".

The timing times Cons+Cons twice, as two distinct jobs doing identical work (the second
its replica, rows with `replica` true). Whatever separates the two is the measurement's
own noise, the part of it the rounds' pairing does not cancel (memory placement, a job's
place in its round, a steady load on one core): the **noise floor**. Rule: per round, the
log of replica / Cons+Cons; floor = exp(F) - 1 with F the largest |end| of the 95%
t-interval of their mean, the largest relative difference between identical jobs that
the rounds leave plausible. A difference between two runs counts for claim 2 only beyond
it. Timing files written before the replica (no `replica` column) have no floor: judged
on the interval alone, as before.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from adamix.report.stats import FAILS, HOLDS, UNCLEAR, combine, lower, paired, t_interval

BASELINE = "Cons+Cons"  # the paper's reference run, the one the timing replicates
REPLICA = "replica"  # the column that marks the replica's rows
FASTER = ("AdaGrad+AdaGrad", "AdaDec+AdaDec")  # what claim 2 compares AdaMix+Power with

RULE = (
    "On the controlled timing (rule step_timing): seconds per training step (forward,"
    " backward, update) of every run in one process, in rounds of a random order each, a"
    f" round pairing the runs; {BASELINE} is timed twice, as two identical jobs. Noise floor:"
    f" exp(F) − 1, F the largest |end| of the 95% t-CI of the mean per-round log(replica /"
    f" {BASELINE}), the largest relative difference between identical jobs the rounds allow."
    " Holds if AdaMix+Power is reliably faster than AdaGrad+AdaGrad and AdaDec+AdaDec (the"
    " 95% t-CI of the mean per-round difference in seconds below 0) and by more than the"
    " floor (the geometric mean per-round ratio below 1/(1 + floor)); does not hold if"
    " reliably slower than either by more than the floor (ratio above 1 + floor); else"
    " inconclusive. Timing without the replica: no floor, the interval alone decides."
)


def measured(timing: pd.DataFrame) -> pd.DataFrame:
    """The rows of the runs themselves, without the replica's (all rows of a timing file
    written before the replica)."""
    if REPLICA not in timing:
        return timing
    return timing[~timing[REPLICA].astype(bool)]


def replica_log_ratios(timing: pd.DataFrame) -> pd.Series:
    """Per round, log(replica / Cons+Cons) of the first reading whose rows hold the
    replica (the replica is one job: other readings hold copies of the same rows); empty
    without a replica."""
    if REPLICA not in timing or not timing[REPLICA].astype(bool).any():
        return pd.Series(dtype=float)
    twin = timing[timing[REPLICA].astype(bool)]
    reading = twin["reading"].iloc[0]
    base = measured(timing)
    base = base[(base["reading"] == reading) & (base["run"] == BASELINE)]
    twin = twin[twin["reading"] == reading]
    pair = twin.set_index("round")["seconds"] / base.set_index("round")["seconds"]
    return np.log(pair.dropna())


def noise_floor(timing: pd.DataFrame) -> dict | None:
    """The noise floor of a timing (see the module): floor (relative, 0.02 is 2%), log
    (F, its log), ratio (the geometric mean replica / Cons+Cons), low and high (its 95%
    interval), n (rounds). None without a replica or with fewer than two rounds."""
    logs = replica_log_ratios(timing)
    if len(logs) < 2:
        return None
    low, high = t_interval(logs)
    f = max(abs(low), abs(high))
    return {"floor": math.expm1(f), "log": f, "ratio": math.exp(logs.mean()),
            "low": math.exp(low), "high": math.exp(high), "n": len(logs)}  # fmt: skip


def floor_text(floor: dict | None) -> str:
    """The floor as the claim's numbers state it."""
    if floor is None:
        return "no noise floor measured (no replica of Cons+Cons in this timing)"
    return (
        f"noise floor {floor['floor']:.2%} (replica / {BASELINE}: geometric mean"
        f" {floor['ratio']:.4f} [{floor['low']:.4f}, {floor['high']:.4f}], n={floor['n']})"
    )


def beyond_floor(a: pd.Series, b: pd.Series, floor: dict | None) -> tuple[str, float]:
    """The verdict on "a is faster than b" (per-round seconds, indexed by round) and the
    geometric mean per-round ratio a / b. Holds: reliably lower (stats.lower) and, with a
    floor, |log ratio| > log(1 + floor); does not hold: reliably higher and beyond the floor
    likewise; else inconclusive."""
    verdict = lower(paired(a, b))
    logs = np.log((a / b).dropna().astype(float))
    ratio = math.exp(logs.mean()) if len(logs) else math.nan
    if floor is not None and verdict != UNCLEAR and not abs(math.log(ratio)) > floor["log"]:
        verdict = UNCLEAR  # reliably apart, but no further than identical jobs come out
    return verdict, ratio


def claim_adamix_faster_timed(seconds: pd.DataFrame, floor: dict | None) -> tuple[str, str]:
    """Claim 2 on the controlled timing (`seconds`: per round x run): AdaMix+Power faster
    than AdaGrad+AdaGrad and AdaDec+AdaDec, each beyond the noise floor (beyond_floor)."""
    parts, verdicts = [], []
    for run in FASTER:
        a, b = seconds["AdaMix+Power"], seconds[run]
        verdict, ratio = beyond_floor(a, b, floor)
        verdicts.append(verdict)
        apart = lower(paired(a, b)) != UNCLEAR
        word = {HOLDS: "faster", FAILS: "slower"}.get(
            verdict, "reliably apart but inside the noise floor" if apart else "not reliably apart"
        )
        parts.append(f"AdaMix+Power − {run}, seconds: {paired(a, b)}, ratio {ratio:.4f} ({word})")
    return combine(verdicts), "; ".join([*parts, floor_text(floor)])
