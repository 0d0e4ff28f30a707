"""adamix.report.convergence on synthetic metrics whose test RER falls by 1 per epoch to
its final value (tests/test_tables.py's metrics): the epochs to the paper's value and the
area under the curve against hand-computed values."""

from __future__ import annotations

import math

import pytest
from test_claims import exp1
from test_tables import EXPERIMENTS, metrics

from adamix.report.convergence import claim1_on_auc, convergence_section, convergence_table
from adamix.report.stats import FAILS, HOLDS


def test_epochs_to_the_papers_value_and_the_area_under_the_curve():
    # epochs 1 and 2 at final + 1 and final: AdaMix+Power (paper 7.82) at 6.5 reaches it
    # at epoch 1 (7.5), Cons+Cons (paper 8.37) at 8.0 at epoch 2 (9.0, then 8.0), AdaGrad
    # (paper 8.47) at 9.0 never; the area is final + 0.5
    df = metrics({"AdaMix+Power": [6.5, 6.7], "Cons+Cons": [8.0, 8.2],
                  "AdaGrad+AdaGrad": [9.0, 9.2], "AdaDec+AdaDec": [7.0, None]})  # fmt: skip
    table = convergence_table(df, {"exp1": EXPERIMENTS["exp1"]}, ["default"], epoch=2)
    row = table.set_index("run")
    assert row.loc["AdaMix+Power", "epoch_reached"] == 1.0
    assert row.loc["AdaMix+Power", "reached"] == 2
    assert row.loc["Cons+Cons", "epoch_reached"] == 2.0
    assert row.loc["AdaGrad+AdaGrad", "reached"] == 0
    assert math.isnan(row.loc["AdaGrad+AdaGrad", "epoch_reached"])
    assert row.loc["AdaMix+Power", "auc"] == pytest.approx(7.1)  # (7.0 + 7.2) / 2
    low, high = row.loc["AdaMix+Power", ["auc_low", "auc_high"]]
    # sd of (7.0, 7.2) is 0.2 / sqrt 2, its standard error 0.1: half-width t(0.975, 1) x 0.1
    assert (high - low) / 2 == pytest.approx(12.706204736174707 * 0.1)
    # a diverged seed never reaches the value and has no area: only the other seed counts
    assert row.loc["AdaDec+AdaDec", "reached"] == 1 and row.loc["AdaDec+AdaDec", "auc"] == 7.5


def test_claim_1_on_the_area_under_the_curve():
    opponent, pair, verdict = claim1_on_auc(metrics(exp1(7.8)), EXPERIMENTS["exp1"], "default")
    assert verdict == HOLDS and opponent != "AdaMix+Power" and len(pair.diffs) == 3
    assert claim1_on_auc(metrics(exp1(8.8)), EXPERIMENTS["exp1"], "default")[2] == FAILS
    text = convergence_section(metrics(exp1(7.8)), {"exp1": EXPERIMENTS["exp1"]}, ["default"])
    assert text.startswith("## Convergence speed") and "**holds**" in text
