"""Claim 1 along the continuum of readings (adamix.report.continuum), on synthetic metrics
whose margins and verdicts are worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_tables import metrics, write_parquet

from adamix.report.continuum import continuum_table, write_continuum
from adamix.report.figures import figure_pixels
from adamix.report.stats import FAILS, HOLDS, UNCLEAR, t_quantile_975

POINTS = {  # reading: (g_scale, update, final test RER per run and seed; None = diverged)
    "default": ("sum", "step", {
        "Cons+Cons": [8.2, 8.4, 8.6], "AdaGrad+AdaGrad": [8.0, 8.5, 9.0],
        "AdaDec+AdaDec": [9.0, 9.0, 9.0], "AdaMix+Power": [10.0, 11.0, 12.0],
    }),
    "g_scale-mean": ("mean", "step", {
        "Cons+Cons": [8.2, 8.4, 8.6], "AdaGrad+AdaGrad": [7.7, 7.9, 8.1],
        "AdaDec+AdaDec": [7.9, 8.0, 8.1], "AdaMix+Power": [7.5, 7.6, 7.7],
    }),
    "g_scale-1_784_per_epoch": ("0.0012755102040816326", "epoch", {
        "Cons+Cons": [8.2, 8.4, 8.6], "AdaGrad+AdaGrad": [8.1, 8.3, None],
        "AdaDec+AdaDec": [9.0, 9.1, 9.2], "AdaMix+Power": [None, 7.0, 7.2],
    }),
}  # fmt: skip


@pytest.fixture
def df() -> pd.DataFrame:
    parts = []
    for reading, (g_scale, update, finals) in POINTS.items():
        part = metrics(finals, reading=reading)
        parts.append(part.assign(g_scale=g_scale, update=update))
    return pd.concat(parts, ignore_index=True)


def test_the_margin_is_paired_against_the_best_other_run(df):
    table = continuum_table(df).set_index("reading")
    # default: best other by mean is Cons+Cons (8.4 < AdaGrad's 8.5, AdaDec's 9.0);
    # AdaMix+Power - Cons+Cons per seed: 1.8, 2.6, 3.4, mean 2.6, sd 0.8
    row = table.loc["default"]
    half = t_quantile_975(2) * 0.8 / math.sqrt(3)
    assert (row["best_other"], row["s"], row["update"]) == ("Cons+Cons", 1.0, "step")
    assert row["margin_mean"] == pytest.approx(2.6)
    assert (row["margin_ci95_low"], row["margin_ci95_high"]) == pytest.approx(
        (2.6 - half, 2.6 + half)
    )
    assert row["verdict"] == FAILS
    # mean: best other AdaGrad (7.9); differences -0.2, -0.3, -0.4 -> below 0: holds
    row = table.loc["g_scale-mean"]
    assert (row["best_other"], row["s"]) == ("AdaGrad+AdaGrad", 0.01)
    assert row["margin_mean"] == pytest.approx(-0.3) and row["margin_ci95_high"] < 0
    assert row["verdict"] == HOLDS


def test_a_diverged_seed_counts_as_that_run_s_loss(df):
    # per epoch at s = 1/784: AdaGrad's mean over its finite seeds (8.2) is the best other
    # run. Seed 0: AdaMix diverged, its loss (+inf); seed 1: 7.0 - 8.3 = -1.3; seed 2:
    # AdaGrad diverged, its loss (-inf). The seeds disagree: inconclusive.
    row = continuum_table(df).set_index("reading").loc["g_scale-1_784_per_epoch"]
    assert row["best_other"] == "AdaGrad+AdaGrad" and row["s"] == pytest.approx(1 / 784)
    assert row["n_diverged"] == 2 and row["n_seeds"] == 3
    assert row["margin_mean"] == pytest.approx(7.0 - 8.3)  # the one finite pair
    assert row["verdict"] == UNCLEAR


def test_points_run_from_the_literal_sum_down_per_update_unit(df):
    table = continuum_table(df)
    assert list(table["reading"]) == ["default", "g_scale-mean", "g_scale-1_784_per_epoch"]


def test_the_rule_writes_the_table_and_a_figure(df, tmp_path):
    path = tmp_path / "exp1_readings.parquet"
    write_parquet(path, df)
    out = {ext: tmp_path / f"continuum.{ext}" for ext in ("csv", "md", "png", "pdf")}
    table = write_continuum([path], out)
    assert len(pd.read_csv(out["csv"])) == len(table) == 3
    assert "Claim 1 along the continuum of readings" in out["md"].read_text()
    assert out["png"].stat().st_size > 10_000 and out["pdf"].exists()


def test_the_figure_is_one_panel_of_the_study_s_size():
    from adamix.report.continuum import continuum_figure
    from adamix.report.figures import DPI, PANEL

    table = pd.DataFrame(
        {"update": ["step", "epoch"], "s": [1.0, 1.0], "margin_mean": [1.0, -1.0],
         "margin_ci95_low": [0.5, -1.5], "margin_ci95_high": [1.5, -0.5]}
    )  # fmt: skip
    fig = continuum_figure(table)
    assert figure_pixels(fig) == (round(PANEL[0] * DPI), round(PANEL[1] * DPI))
    assert len(fig.axes[0].get_legend().get_texts()) == 2


def test_the_writeup_section_names_where_claim_1_holds_per_update_unit():
    from adamix.report.continuum import continuum_section

    table = pd.DataFrame(
        {"reading": ["default", "g_scale-mean", "per_epoch"], "update": ["step", "step", "epoch"],
         "g_scale": ["sum", "mean", "sum"], "s": [1.0, 0.01, 1.0],
         "best_other": ["AdaDec+AdaDec"] * 3, "n_seeds": [3, 3, 3],
         "margin_mean": [9.14, -0.18, 4.81], "margin_ci95_low": [9.0, -0.22, 4.0],
         "margin_ci95_high": [9.3, -0.13, 5.5], "n_diverged": [0, 0, 0],
         "verdict": ["does not hold", "holds", "does not hold"]}
    )  # fmt: skip
    text = continuum_section(table, "exp1_readings", "figures/exp1_readings_continuum.png")
    assert "- Update per step: claim 1 holds at s = mean; does not hold at s = sum." in text
    assert "- Update per epoch: claim 1 holds at no point; does not hold at s = sum." in text
    assert "| step     | s = mean | AdaDec+AdaDec    | 3       | -0.18 [-0.22, -0.13] |" in text
    assert (
        "![exp1_readings: claim 1's margin against s](figures/exp1_readings_continuum.png)" in text
    )
