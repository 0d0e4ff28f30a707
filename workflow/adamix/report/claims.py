"""The paper's six claims and two of ours (7: the tuned comparison, 8: experiment 5's
baseline), each judged per experiment that repeats the claim's figure (on
each data set) and per reading, on our final-epoch results: holds, does not hold,
inconclusive or not run, with the numbers behind the verdict and the rule that decides it
(adamix.report.stats). Claims 1 and 4 are also judged rate-matched, on the tuned runs
(adamix.report.tuned_claims)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from adamix.plan.config import dataset_of
from adamix.report.metrics import load_metrics
from adamix.report.stats import (
    FAILS,
    HOLDS,
    HUGE,
    NOT_RUN,
    UNCLEAR,
    close,
    combine,
    higher,
    lower,
    means_text,
    paired,
)
from adamix.report.tables import BASELINE, final_rows, select_experiment, write_table
from adamix.report.timing import RULE as TIMING_RULE
from adamix.report.timing import claim_adamix_faster_timed, measured, noise_floor
from adamix.report.tuned_claims import RATE, judge_tuned, rate_matched

FAR = 2.0  # claim 3: "much worse" = more than twice the RER
CLOSE = 0.10  # claim 3: "close" = within 10% of Cons+Cons's RER
BARELY = 0.05  # claim 5: "barely matter" = within 5% of Cons+Cons's RER
# The two tests the rules of the claims are made of, as each claim's `rule` spells them.
RELIABLY = (
    " Reliably lower/higher: the 95% t-CI of the mean per-seed difference (runs share seeds)"
    f" excludes 0; with one seed, the difference exceeds {HUGE:.0%} of the reference; a seed"
    " where only one run diverged counts as a loss for that run."
)
WITHIN = (
    " Within m: the 95% t-CI of the mean per-seed difference lies inside ±m (wholly outside,"
    f" any one-sided divergence, or with one seed a difference beyond {HUGE:.0%}: does not"
    " hold)."
)

# The runs the claims compare.
EXP1_OTHERS = ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec"]
ADAPTIVE = ["AdaGrad+Cons", "AdaDec+Cons", "AdaMix+Cons"]
SIMPLE = ["Cons+Cons", "Exp+Cons", "Power+Cons"]
EXP4_OTHERS = ["Cons+Exp", "Cons+Power", "Cons+AdaGrad", "Cons+AdaDec", "Cons+AdaMix"]
MODERN = ["Momentum+Momentum", "Nesterov+Nesterov", "Adam+Adam", "RMSprop+RMSprop"]  # claim 7

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ rules
# Each claim is judged on a "wide" table: index seed, one column per run (per data size
# for claim 6), values the final-epoch test RER (+inf: diverged) or, for claim 2, seconds.


def claim_adamix_lowest(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 1 (exp1): AdaMix+Power has a lower RER than each of the other three runs."""
    diffs = {run: paired(rer["AdaMix+Power"], rer[run]) for run in EXP1_OTHERS}
    verdicts = [lower(p) for p in diffs.values()]
    numbers = "; ".join(f"AdaMix+Power − {run}: {p}" for run, p in diffs.items()) + (
        f"; of {len(verdicts)} pairs AdaMix+Power − other: {verdicts.count(HOLDS)} reliably"
        f" lower, {verdicts.count(FAILS)} reliably higher"
    )
    return combine(verdicts), numbers


def claim_adamix_faster(seconds: pd.DataFrame) -> tuple[str, str]:
    """Claim 2 (exp1): AdaMix+Power takes less time than AdaGrad+AdaGrad and AdaDec+AdaDec."""
    diffs = {run: paired(seconds["AdaMix+Power"], seconds[run]) for run in EXP1_OTHERS[1:]}
    numbers = "; ".join(f"AdaMix+Power − {run}, seconds: {p}" for run, p in diffs.items())
    return combine(lower(p) for p in diffs.values()), numbers


def claim_weights_matter(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 3 (exp2): None+Cons is far worse than Cons+None, which is close to Cons+Cons."""
    far = paired(rer["None+Cons"], FAR * rer["Cons+None"])
    near = paired(rer["Cons+None"], rer["Cons+Cons"])
    numbers = (
        f"{means_text(rer, ['Cons+None', 'Cons+Cons', 'None+Cons'])}; "
        f"None+Cons − {FAR:g}×Cons+None: {far}; Cons+None − Cons+Cons: {near}, "
        f"margin ±{CLOSE * abs(near.ref):.3g}"
    )
    return combine([higher(far), close(near, CLOSE)]), numbers


def claim_adaptive_weights(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 4 (exp3): every adaptive weight rule beats every simple one (9 pairs)."""
    verdicts = [lower(paired(rer[a], rer[s])) for a in ADAPTIVE for s in SIMPLE]
    numbers = (
        f"{means_text(rer, ADAPTIVE + SIMPLE)}; of {len(verdicts)} pairs adaptive − simple: "
        f"{verdicts.count(HOLDS)} reliably lower, {verdicts.count(FAILS)} reliably higher"
    )
    return combine(verdicts), numbers


def claim_bias_rules_minor(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 5 (exp4): every bias rule's RER within BARELY of Cons+Cons's."""
    diffs = {run: paired(rer[run], rer[BASELINE]) for run in EXP4_OTHERS}
    means = rer.where(np.isfinite(rer)).mean()
    spread = means.max() - means.min()
    numbers = (
        f"spread of the six means {spread:.3g} ({spread / means[BASELINE]:.1%} of Cons+Cons); "
        f"margin ±{BARELY * means[BASELINE]:.3g}; "
        + "; ".join(f"{run} − Cons+Cons: {p}" for run, p in diffs.items())
    )
    return combine(close(p, BARELY) for p in diffs.values()), numbers


def claim_more_data(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 6 (exp5): RER decreases from each data size to the next larger one."""
    sizes = sorted(rer.columns)
    if len(sizes) < 2:
        return UNCLEAR, f"only one data size ({sizes[0]:g})"
    steps = {(s, t): paired(rer[t], rer[s]) for s, t in zip(sizes[:-1], sizes[1:], strict=True)}
    numbers = f"{means_text(rer, sizes)}; " + "; ".join(
        f"{t:g} − {s:g}: {p}" for (s, t), p in steps.items()
    )
    return combine(lower(p) for p in steps.values()), numbers


def claim_more_data_beats_baseline(wide: pd.DataFrame) -> tuple[str, str]:
    """Claim 8 (exp5, not the paper's): AdaMix+Power has a lower RER than Cons+Cons at every
    data size. `wide`: columns (run, size). A size that lacks one of the two runs makes the
    verdict inconclusive at best."""
    sizes = sorted({size for _, size in wide.columns})
    both = [s for s in sizes if ("AdaMix+Power", s) in wide and (BASELINE, s) in wide]
    diffs = {s: paired(wide[("AdaMix+Power", s)], wide[(BASELINE, s)]) for s in both}
    numbers = "; ".join(f"{s:g}: AdaMix+Power − {BASELINE}: {p}" for s, p in diffs.items())
    verdicts = [lower(p) for p in diffs.values()]
    if lacking := [s for s in sizes if s not in both]:
        numbers += f"; sizes without both runs: {', '.join(f'{s:g}' for s in lacking)}"
        verdicts.append(UNCLEAR)
    return combine(verdicts), numbers


def claim_tuned_adamix(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 7 (tuning, not the paper's): tuned AdaMix+Power is at least as good as the best
    tuned modern run (the lowest mean test RER of MODERN). Non-inferiority within BARELY:
    holds if AdaMix+Power is reliably lower or within ±BARELY of it; does not hold if
    reliably higher and not within; else inconclusive."""
    means = rer.where(np.isfinite(rer)).mean()
    best = min(MODERN, key=lambda run: means[run] if np.isfinite(means[run]) else math.inf)
    p = paired(rer["AdaMix+Power"], rer[best])
    within, below, above = close(p, BARELY), lower(p), higher(p)
    verdict = (
        HOLDS if HOLDS in (below, within) else FAILS if above == HOLDS and within == FAILS
        else UNCLEAR
    )  # fmt: skip
    numbers = (
        f"{means_text(rer, ['AdaMix+Power', *MODERN])}; best modern: {best}; AdaMix+Power −"
        f" {best}: {p}, margin ±{BARELY * abs(p.ref):.3g}"
    )
    return verdict, numbers


# ------------------------------------------------------------------ table


@dataclass(frozen=True)
class Claim:
    """One claim: the paper's figure (and its experiment) and the runs it needs, `judge`
    applied to a wide table of `value` (per seed x `columns`), and `rule`, the same in
    words. Every experiment whose `figure` is the claim's is judged."""

    number: int
    statement: str
    figure: int
    runs: tuple[str, ...]  # the runs the claim needs
    judge: Callable[[pd.DataFrame], tuple[str, str]]
    rule: str
    value: str = "rer"  # or "seconds"
    columns: str = "run"  # or "size": one column per data size; "run+size": per both


TUNED = Claim(
    7, "Tuned AdaMix is at least as good as the best tuned modern optimizer (not the"
    " paper's)", 0, ("AdaMix+Power", *MODERN), claim_tuned_adamix,
    f"{RATE} Holds if AdaMix+Power is reliably lower than the tuned modern run with"
    f" the lowest mean ({', '.join(MODERN)}) or within ±{BARELY:.0%} of it; does not hold if"
    " reliably higher and not within; else inconclusive." + RELIABLY + WITHIN,
)  # fmt: skip


TIMED = Claim(
    2, "AdaMix costs less time than AdaGrad and AdaDec (exp 1; controlled timing)", 4,
    ("AdaMix+Power", *EXP1_OTHERS[1:]), partial(claim_adamix_faster_timed, floor=None),
    TIMING_RULE, value="seconds",
)  # fmt: skip  # _judge_timing gives it each timing's noise floor


CLAIMS = [
    Claim(
        1, "AdaMix has the lowest RER of the four in exp 1", 4,
        ("AdaMix+Power", *EXP1_OTHERS), claim_adamix_lowest,
        "Holds if AdaMix+Power is reliably lower than each of Cons+Cons, AdaGrad+AdaGrad and"
        " AdaDec+AdaDec; does not hold if reliably higher than any; else inconclusive."
        + RELIABLY,
    ),
    Claim(
        2, "AdaMix costs less time than AdaGrad and AdaDec (exp 1; job wall times, a second"
        " view)", 4,
        ("AdaMix+Power", *EXP1_OTHERS[1:]), claim_adamix_faster,
        "Same as claim 1 on cumulative fine-tuning seconds at the final epoch, against"
        " AdaGrad+AdaGrad and AdaDec+AdaDec (diverged jobs left out: they stopped early). Jobs"
        " that share a machine with others measure the sharing too: the controlled timing"
        " decides." + RELIABLY,
        value="seconds",
    ),
    Claim(
        3, "Weights matter far more than biases (exp 2)", 5,
        ("Cons+None", "Cons+Cons", "None+Cons"), claim_weights_matter,
        f"Holds if None+Cons is reliably higher than {FAR:g}× Cons+None AND Cons+None is within"
        f" ±{CLOSE:.0%} of Cons+Cons's mean RER; does not hold if None+Cons is reliably lower"
        f" than {FAR:g}× Cons+None or Cons+None is not within; else inconclusive."
        + RELIABLY
        + WITHIN,
    ),
    Claim(
        4, "Per-parameter weight rules beat simple ones (exp 3)", 6,
        (*ADAPTIVE, *SIMPLE), claim_adaptive_weights,
        "Holds if each of AdaGrad+Cons, AdaDec+Cons, AdaMix+Cons is reliably lower than each of"
        " Cons+Cons, Exp+Cons, Power+Cons (9 pairs); does not hold if any adaptive run is"
        " reliably higher than any simple one; else inconclusive." + RELIABLY,
    ),
    Claim(
        5, "Bias rules barely matter (exp 4)", 7,
        (BASELINE, *EXP4_OTHERS), claim_bias_rules_minor,
        f"Holds if each of the five other bias rules is within ±{BARELY:.0%} of Cons+Cons's mean"
        " RER; does not hold if any is not (see 'within'); else inconclusive." + WITHIN,
    ),
    Claim(
        6, "More data, lower RER (exp 5)", 8,
        ("AdaMix+Power",), claim_more_data,
        "Holds if the RER at each data size is reliably lower than at the next smaller size;"
        " does not hold if reliably higher at any step; else inconclusive (also with one"
        " size)." + RELIABLY,
        columns="size",
    ),
    Claim(
        8, "AdaMix beats the constant rate at every data size (exp 5; not the paper's)", 8,
        ("AdaMix+Power", BASELINE), claim_more_data_beats_baseline,
        f"Holds if AdaMix+Power is reliably lower than {BASELINE} at each data size; does not"
        " hold if reliably higher at any; else inconclusive." + RELIABLY,
        columns="run+size",
    ),
]  # fmt: skip
RATE_MATCHED = [rate_matched(claim) for claim in CLAIMS if claim.number in (1, 4)]

CLAIM_COLUMNS = [
    "claim", "statement", "dataset", "experiment", "reading", "sizes", "verdict", "numbers", "rule",
]  # fmt: skip


def claims_table(
    df: pd.DataFrame,
    experiments: dict,
    epoch: int | None = None,
    tuned: pd.DataFrame | None = None,
    timing: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per claim, experiment of its figure and reading (and data size, except claim
    6): verdict, the numbers behind it and the rule. `experiments`: the config's
    experiments; a claim with no experiment of its figure, or whose runs are absent, gets
    "not run". `timing`: the controlled timing per experiment (rule step_timing), claim 2's
    first view."""
    final = final_rows(df, epoch)
    rows = []
    for claim in CLAIMS:
        if claim.number == TIMED.number:
            rows += _judge_timing(timing or {}, experiments)
        rows += _judge(claim, final, experiments)
    if tuned is not None:  # claim 7, and claims 1 and 4 rate-matched where their runs were tuned
        rows += judge_tuned(final_rows(tuned, epoch), TUNED, RATE_MATCHED, _verdict)
    table = pd.DataFrame(rows, columns=CLAIM_COLUMNS)  # tuned rows after the claim's others
    return table.sort_values("claim", kind="stable", ignore_index=True)


def _judge_timing(timed: Mapping[str, pd.DataFrame], experiments: dict) -> list[dict]:
    """Claim 2 per experiment and reading, on its controlled timing: per round x run,
    against the noise floor of the experiment's timing (adamix.report.timing)."""
    rows = []
    for name, table in timed.items():
        experiment = experiments[name]
        size = f"{float(experiment['sizes'][0]):g}"
        judge = partial(claim_adamix_faster_timed, floor=noise_floor(table))
        claim = replace(TIMED, judge=judge)
        for reading, group in measured(table).groupby("reading", sort=False):
            rows.append(
                {"claim": claim.number, "statement": claim.statement, "rule": claim.rule,
                 "dataset": dataset_of(experiment), "experiment": name, "reading": reading,
                 "sizes": size, **_verdict(claim, group, index="round")}
            )  # fmt: skip
    return rows


def _verdict(claim: Claim, group: pd.DataFrame, index: str = "seed") -> dict:
    """verdict and numbers of `claim` on the rows `group` (a `run` column), pivoted to one
    row per `index` and one column per claim.columns; "not run" if runs are missing."""
    if missing := [run for run in claim.runs if run not in set(group["run"])]:
        return {"verdict": NOT_RUN, "numbers": f"missing runs: {', '.join(missing)}"}
    group = group[group["run"].isin(claim.runs)]
    columns = claim.columns.split("+")  # "run+size": a column per run and size
    columns = columns[0] if len(columns) == 1 else columns
    wide = group.pivot(index=index, columns=columns, values=claim.value)
    verdict, numbers = claim.judge(wide)
    return {"verdict": verdict, "numbers": numbers}


def _judge(claim: Claim, final: pd.DataFrame, experiments: dict) -> list[dict]:
    base = {"claim": claim.number, "statement": claim.statement, "rule": claim.rule}
    mine = {n: e for n, e in experiments.items() if e.get("figure") == claim.figure}
    rows = []
    for name, experiment in mine.items():
        dataset = dataset_of(experiment)
        data = select_experiment(final, experiment)
        row = {**base, "dataset": dataset, "experiment": name}
        if data.empty:
            rows.append({**row, "reading": "", "sizes": "", "verdict": NOT_RUN,
                         "numbers": f"no results of {name}"})  # fmt: skip
            continue
        by = ["reading", "size"] if claim.columns == "run" else ["reading"]
        for keys, group in data.groupby(by, sort=False):
            sizes = ", ".join(f"{s:g}" for s in group["size"].unique())
            rows.append({**row, "reading": keys[0], "sizes": sizes, **_verdict(claim, group)})
    if not rows:
        why = f"no experiment of paper figure {claim.figure}"
        rows.append({**base, "dataset": "", "experiment": "", "reading": "", "sizes": "",
                     "verdict": NOT_RUN, "numbers": why})  # fmt: skip
    return rows


def write_claims(
    inputs: Iterable[str | Path],
    out: Mapping,
    experiments: dict,
    epoch: int | None = None,
    tuned: str | Path | None = None,
    timing: Iterable[str | Path] = (),
) -> pd.DataFrame:
    """claims_table of the metrics files `inputs` (and claim 7, claims 1 and 4 rate-matched,
    of the tuned runs' metrics file `tuned`; claim 2 of the controlled timing files
    `timing`, results/timing/{name}.parquet), written as CSV, Markdown and HTML (rule
    claims; `out`: their paths, keys csv, md, html); each verdict is also logged."""
    tuned_metrics = load_metrics([tuned]) if tuned is not None else None
    timed = {Path(path).stem: pd.read_parquet(path) for path in timing}
    table = claims_table(
        load_metrics(inputs), experiments, epoch=epoch, tuned=tuned_metrics, timing=timed
    )
    write_table(
        table,
        out,
        title="The paper's claims: verdicts",
        note=(
            f"Per reading, on the final-epoch ({epoch}) test rer_sse of each seed (claim 2: the"
            " controlled timing's seconds per step per round, then the jobs' fine-tuning"
            " seconds). Verdicts: holds, does not hold, inconclusive, not run (the"
            " experiment or one of its runs is absent). The rule of each claim is in its row."
            " Claims 7 and 8 are ours, not the paper's: the tuned comparison, and experiment 5's"
            " constant-rate baseline. Claims 1 and 4 are also judged rate-matched (experiment"
            " tuning: each run at the rate its own search chose)."
        ),
    )
    for row in table.itertuples():
        log.info(
            "claim %d (%s, %s): %s", row.claim, row.experiment or "-", row.reading, row.verdict
        )
    return table
