"""adamix.report.subsets: the data subset's share of the variance over seeds, on synthetic
rows with hand-computed variances, shares and F-test p-values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from adamix.report.subsets import COLUMNS, final_rows, pooled_variance, subset_share


def rows(run: str, reading: str, per_seed: bool, rers) -> list[dict]:
    return [
        {"reading": reading, "run": run, "seed": seed, "rer": rer, "per_seed": per_seed}
        for seed, rer in enumerate(rers)
    ]


def test_share_and_f_test_by_hand():
    df = pd.DataFrame(
        rows("A+A", "default", False, [1, 2, 3])  # variance 1, 2 df
        + rows("A+A", "subset-per_seed", True, [1, 3, 5])  # variance 4, 2 df
        + rows("B+B", "default", False, [0, 2, 4])  # variance 4
        + rows("B+B", "subset-per_seed", True, [1, 2, 3])  # variance 1
    )
    table = subset_share(df).set_index("run")
    assert list(table.reset_index().columns) == COLUMNS and list(table.index) == ["A+A", "B+B"]
    a, b = table.loc["A+A"], table.loc["B+B"]
    assert (a["n_fixed"], a["n_per_seed"], a["df_fixed"], a["df_per_seed"]) == (3, 3, 2, 2)
    assert (a["var_fixed"], a["var_per_seed"]) == (1.0, 4.0)
    assert a["share"] == pytest.approx(0.75)  # (4 - 1) / 4
    # F(2, 2) has survival function 1 / (1 + x): p = 1 / (1 + 4)
    assert a["f"] == pytest.approx(4.0) and a["p"] == pytest.approx(0.2)
    # per-seed subsets with less variance: no share (floored at 0), F = 1/4, p = 1 / 1.25
    assert b["share"] == 0.0 and b["f"] == pytest.approx(0.25) and b["p"] == pytest.approx(0.8)


def test_variance_is_pooled_within_readings():
    # two primary readings, each around its own mean: fixed SS 2 + 8 over 2 + 2 df;
    # per seed SS 8 + 8 over 1 + 2 df
    df = pd.DataFrame(
        rows("A+A", "default", False, [1, 2, 3])
        + rows("A+A", "per_epoch", False, [10, 12, 14])
        + rows("A+A", "subset-per_seed", True, [0, 4])
        + rows("A+A", "per_epoch_subset-per_seed", True, [5, 7, 9])
    )
    row = subset_share(df).iloc[0]
    assert (row["df_fixed"], row["df_per_seed"]) == (4, 3)
    assert row["var_fixed"] == pytest.approx(2.5) and row["var_per_seed"] == pytest.approx(16 / 3)
    assert row["share"] == pytest.approx(1 - 7.5 / 16)  # 0.53125
    assert row["f"] == pytest.approx(32 / 15)
    assert row["p"] == pytest.approx(stats.f.sf(32 / 15, 3, 4))
    # with one reading a group's pooled variance is the sample variance
    values = np.array([0.5, 1.5, 4.0])
    one = pd.DataFrame({"reading": "r", "rer": values})
    assert pooled_variance(one) == (3, 2, pytest.approx(np.var(values, ddof=1)))


def test_a_diverged_seed_is_left_out_and_too_few_seeds_give_nan():
    df = pd.DataFrame(
        rows("A+A", "default", False, [1, 2, 3, math.inf])
        + rows("A+A", "subset-per_seed", True, [1, 3, 5, math.nan])
        + rows("C+C", "default", False, [1.0])
        + rows("C+C", "subset-per_seed", True, [1.0, 2.0])
    )
    table = subset_share(df).set_index("run")
    assert table.loc["A+A", "n_fixed"] == 3 and table.loc["A+A", "share"] == pytest.approx(0.75)
    c = table.loc["C+C"]
    assert c["df_fixed"] == 0 and math.isnan(c["var_fixed"])
    assert all(math.isnan(c[k]) for k in ("share", "f", "p"))
    with pytest.raises(ValueError, match=r"lack columns \['per_seed'\]"):
        subset_share(df.drop(columns="per_seed"))


def test_final_rows_of_the_metrics():
    metrics = pd.DataFrame(
        {
            "reading": ["default", "default", "subset-per_seed", "g_scale-mean"],
            "weight_rule": ["AdaMix"] * 4,
            "bias_rule": ["Power"] * 4,
            "seed": [0, 0, 1, 0],
            "epoch": [49, 50, 50, 50],
            "test_rer_sse": [9.0, 8.0, 7.0, 6.0],
        }
    )
    got = final_rows(metrics)
    assert got.to_dict("list") == {
        "reading": ["default", "subset-per_seed"],
        "run": ["AdaMix+Power", "AdaMix+Power"],
        "seed": [0, 1],
        "rer": [8.0, 7.0],
        "per_seed": [False, True],
    }


def test_the_writeup_section_reads_its_experiments_cells_only():
    from adamix.report.subsets import subsets_section

    def job(reading, size, rers, run=("Cons", "Cons")):
        return [
            {"dataset": "mnist", "size": size, "weight_rule": run[0], "bias_rule": run[1],
             "reading": reading, "seed": seed, "epoch": 2, "test_rer_sse": rer}
            for seed, rer in enumerate(rers)
        ]  # fmt: skip

    metrics = pd.DataFrame(
        job("default", 0.1, [8.0, 8.1, 8.2])  # variance 0.01
        + job("subset-per_seed", 0.1, [7.0, 8.0, 9.0])  # variance 1
        + job("default", 0.3, [1.0, 50.0, 99.0])  # another size: left out
        + job("default", 0.1, [1.0, 50.0, 99.0], run=("None", "Cons"))  # another run
    )
    experiment = {"runs": ["Cons+Cons"], "sizes": [0.1], "readings": ["subset-per_seed"]}
    text = subsets_section(metrics, "exp1_subsets", experiment)
    p = stats.f.sf(100.0, 2, 2)  # F = 1 / 0.01
    assert p < 0.05
    (row,) = [line for line in text.splitlines() if line.startswith("| Cons+Cons")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == ["Cons+Cons", "3 / 3", "0.0100", "1.0000", "99%", "100.00", f"{p:.2g}"]
    assert "**The subset matters** (F-test p < 0.05) for Cons+Cons" in text
    assert "None+Cons" not in text
