"""The data subset's share of the variance over seeds (experiment exp1_subsets).

Every training seed of the study trains on one subset, drawn once with config
`data.subset_seed` (adamix.data.subsets); an interval over seeds is then conditional on
that draw. The readings with `subset: per_seed` draw the subset per training seed
(adamix.plan.config.subset_seed_of), so that their spread over seeds holds the subset's
variance too. Per run, compared with its fixed-subset counterpart (exp1's default and
exp1_readings' per_epoch against subset-per_seed and per_epoch_subset-per_seed):

- var_fixed, var_per_seed: the variance over seeds of the final-epoch test RER, within
  each reading (around its own mean) and pooled over the readings of the group, with
  sum(n_reading - 1) degrees of freedom;
- share: (var_per_seed - var_fixed) / var_per_seed, floored at 0: the part of the
  per-seed variance that the subset adds;
- f, p: the variance ratio var_per_seed / var_fixed and its one-sided F-test p-value
  (per-seed subsets add variance), scipy.stats.f.sf(f, df_per_seed, df_fixed).

A seed whose RER is not finite (a diverged run) has no variance to give: it is left out,
and n_fixed, n_per_seed count the seeds kept.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from adamix.report.render import markdown, render

# The primary readings (config decide.readings) and their per-seed-subset counterparts
# (config.yaml readings).
PAIRS = {"default": "subset-per_seed", "per_epoch": "per_epoch_subset-per_seed"}
COLUMNS = [
    "run", "n_fixed", "n_per_seed", "df_fixed", "df_per_seed", "var_fixed", "var_per_seed",
    "share", "f", "p",
]  # fmt: skip


def final_rows(
    metrics: pd.DataFrame, pairs: Mapping[str, str] = PAIRS, epoch: int | None = None
) -> pd.DataFrame:
    """The rows subset_share takes, from per-epoch metrics (adamix.report.metrics columns:
    reading, weight_rule, bias_rule, seed, epoch, test_rer_sse): at `epoch` (the last one
    if None), of each fixed-subset reading of `pairs` and its per-seed counterpart; columns
    reading, run, seed, rer and per_seed (True for the per-seed readings)."""
    epoch = int(metrics["epoch"].max()) if epoch is None else epoch
    per_seed = {**dict.fromkeys(pairs, False), **dict.fromkeys(pairs.values(), True)}
    rows = metrics[(metrics["epoch"] == epoch) & metrics["reading"].isin(per_seed)]
    return pd.DataFrame(
        {
            "reading": rows["reading"].to_numpy(),
            "run": (rows["weight_rule"] + "+" + rows["bias_rule"]).to_numpy(),
            "seed": rows["seed"].to_numpy(),
            "rer": rows["test_rer_sse"].to_numpy(dtype=float),
            "per_seed": rows["reading"].map(per_seed).to_numpy(dtype=bool),
        }
    )


def pooled_variance(rows: pd.DataFrame) -> tuple[int, int, float]:
    """(seeds, degrees of freedom, variance) of `rer` over seeds within each reading of
    `rows`, pooled: the squared deviations from each reading's mean over sum(n - 1)."""
    n = ss = df = 0
    for _, group in rows.groupby("reading", sort=False):
        values = group["rer"].to_numpy(dtype=float)
        n += values.size
        if values.size > 1:
            ss += float(((values - values.mean()) ** 2).sum())
            df += values.size - 1
    return n, df, (ss / df if df else float("nan"))


def subset_share(df: pd.DataFrame, flag: str = "per_seed") -> pd.DataFrame:
    """Per run of `df` (final-epoch test RER rows: columns reading, run, seed, rer and
    `flag`, True where the subset is drawn per seed), the variance over seeds under the
    fixed and under per-seed subsets, the subset's share of the latter and the F-test of
    their ratio (see the module's doc); one row per run, in order of first appearance."""
    missing = {"reading", "run", "seed", "rer", flag} - set(df.columns)
    if missing:
        raise ValueError(f"subset_share: rows lack columns {sorted(missing)}")
    rows = df[np.isfinite(df["rer"].to_numpy(dtype=float))]
    out = []
    for run in dict.fromkeys(df["run"]):
        mine = rows[rows["run"] == run]
        is_per_seed = mine[flag].astype(bool)
        n_fixed, df_fixed, var_fixed = pooled_variance(mine[~is_per_seed])
        n_per_seed, df_per_seed, var_per_seed = pooled_variance(mine[is_per_seed])
        share = f = p = float("nan")
        if df_fixed and df_per_seed:
            # no variance under per-seed subsets: none for the subset to add
            share = max(0.0, (var_per_seed - var_fixed) / var_per_seed) if var_per_seed else 0.0
            if var_fixed > 0:
                f = var_per_seed / var_fixed
                p = float(stats.f.sf(f, df_per_seed, df_fixed))
        out.append(
            [run, n_fixed, n_per_seed, df_fixed, df_per_seed, var_fixed, var_per_seed, share, f, p]
        )
    return pd.DataFrame(out, columns=COLUMNS)


def subsets_section(metrics: pd.DataFrame, name: str, experiment: Mapping) -> str:
    """The write-up's section on experiment `name` (its config block: runs, sizes,
    readings, dataset), from the gathered per-epoch metrics: subset_share of its runs at its
    first size on its data set, each per-seed reading beside its fixed counterpart."""
    size = float(experiment["sizes"][0])
    mine = metrics[
        (metrics["dataset"] == experiment.get("dataset", "mnist"))
        & (metrics["size"].astype(float) == size)
        & (metrics["weight_rule"] + "+" + metrics["bias_rule"]).isin(experiment["runs"])
    ]
    pairs = {fixed: ps for fixed, ps in PAIRS.items() if ps in experiment["readings"]}
    share = subset_share(final_rows(mine, pairs))
    shown = pd.DataFrame(
        {
            "run": share["run"],
            "seeds: fixed / per seed": [f"{a} / {b}" for a, b in
                                        zip(share["n_fixed"], share["n_per_seed"], strict=True)],
            "variance: fixed subset": share["var_fixed"].map("{:.4f}".format),
            "variance: subset per seed": share["var_per_seed"].map("{:.4f}".format),
            "share of the subset": share["share"].map("{:.0%}".format),
            "F": share["f"].map("{:.2f}".format),
            "p": share["p"].map("{:.2g}".format),
        }
    )  # fmt: skip
    return render(
        "subsets.md.j2",
        experiment=name,
        size=size,
        readings=list(pairs.values()),
        table=markdown(shown),
        matters=list(share.loc[share["p"] < 0.05, "run"]),
    )
