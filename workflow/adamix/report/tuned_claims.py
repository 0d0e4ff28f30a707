"""The claims judged on the tuned runs (rule tuning_metrics: each run at the rate its own
search chose on the validation split, rerun on every seed): claim 7 (ours), and claims 1
and 4 rate-matched, the paper's comparisons of exp 1 and exp 3 with every run at its own
best rate instead of the paper's shared one. Rows of the claims table with experiment
"tuning" (adamix.report.claims), per data set and reading."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from adamix.report.tuning import base_reading

if TYPE_CHECKING:
    from adamix.report.claims import Claim

EXPERIMENT = "tuning"  # the claims table's experiment of every row judged here
RATE = (
    "Each run at the rate its search chose on the validation split (results/tuning/), test"
    " RER per seed."
)
MATCHED = 2  # a rate-matched claim is judged where the tuned runs hold this many of its runs


def rate_matched(claim: Claim) -> Claim:
    """`claim` (the paper's, judged on an experiment at the paper's rate) on the tuned runs:
    the same runs, judge and rule, each run at its own tuned rate; its own statement, so
    that the write-up's tables tell it from the paper-protocol rows."""
    return replace(
        claim,
        statement=f"{claim.statement}, each run at its own tuned rate",
        figure=0,
        rule=f"{RATE} Then as on the paper's protocol: {claim.rule}",
    )


def judge_tuned(
    final: pd.DataFrame,
    tuned: Claim,
    matched: Sequence[Claim],
    verdict: Callable[[Claim, pd.DataFrame], dict],
) -> list[dict]:
    """Per data set and reading of the tuned runs' final rows (readings named by
    adamix.plan.cells.tuning_reading, one rate per run: base_reading groups them): `tuned`
    (claim 7) always, each claim of `matched` only where the tuned runs hold at least
    MATCHED of its runs (else the tuning did not set out to test it: no row; some but not
    all: "not run", with the missing runs). `verdict`: claims._verdict."""
    final = base_reading(final)
    rows = []
    for (dataset, reading), group in final.groupby(["dataset", "reading"], sort=False):
        sizes = ", ".join(f"{s:g}" for s in group["size"].unique())
        ran = set(group["run"])
        for claim in [tuned, *matched]:
            if claim is not tuned and len(ran.intersection(claim.runs)) < MATCHED:
                continue
            rows.append(
                {"claim": claim.number, "statement": claim.statement, "rule": claim.rule,
                 "experiment": EXPERIMENT, "dataset": dataset, "reading": reading,
                 "sizes": sizes, **verdict(claim, group)}
            )  # fmt: skip
    return rows
