"""adamix.tables on synthetic metrics whose answers are known: loading, the paper's
numbers, the experiment and wall-time tables, and each claim's four verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adamix import tables
from adamix.metrics import FINETUNE_SCHEMA
from adamix.tables import FAILS, HOLDS, NOT_RUN, UNCLEAR

T2 = 4.302653  # t_{0.975, 2}: 95% CI of a mean over 3 seeds
T1 = 12.706205  # t_{0.975, 1}: over 2 seeds

# The experiments of config.yaml (section 3 of the paper), on one reading.
EXPERIMENTS = {
    "exp1": {"figure": 4, "runs": ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec",
                                   "AdaMix+Power"]},
    "exp2": {"figure": 5, "runs": ["Cons+None", "Cons+Cons", "None+Cons"]},
    "exp3": {"figure": 6, "runs": ["Cons+Cons", "Exp+Cons", "Power+Cons", "AdaGrad+Cons",
                                   "AdaDec+Cons", "AdaMix+Cons"]},
    "exp4": {"figure": 7, "runs": ["Cons+Cons", "Cons+Exp", "Cons+Power", "Cons+AdaGrad",
                                   "Cons+AdaDec", "Cons+AdaMix"]},
    "exp5": {"figure": 8, "runs": ["AdaMix+Power"], "sizes": [0.1, 0.3, 0.6, 1.0]},
}  # fmt: skip
for _exp in EXPERIMENTS.values():
    _exp.setdefault("sizes", [0.1])
    _exp["readings"] = ["default"]


# ------------------------------------------------------------------ synthetic metrics


def job_rows(run, size, seed, final, *, epochs=2, reading="default", seconds=1.0) -> list[dict]:
    """Rows of one job whose test RER falls by 1 per epoch to `final` at the last epoch;
    `final` None: the job diverges at epoch 1 and stops there (as adamix.train does)."""
    weight, bias = run.split("+")
    last = epochs if final is not None else min(1, epochs)
    rows = []
    for epoch in range(last + 1):
        broken = final is None and epoch == last
        rer = math.nan if broken else (final if final is not None else 20.0) + (epochs - epoch)
        rows.append(
            {
                "reading": reading, "weight_rule": weight, "bias_rule": bias,
                "size": float(size), "seed": seed, "timing": "current", "adadec": "paper",
                "t_unit": "step", "g_scale": "sum", "loss": "sse", "epoch": epoch,
                "step": 60 * epoch, "train_rer_sse": rer, "test_rer_sse": rer,
                "train_rer_mse": rer / 784, "test_rer_mse": rer / 784,
                "epoch_seconds": seconds if epoch else 0.0,
                "cumulative_seconds": seconds * epoch, "lr_weight_mean": 1e-3,
                "lr_weight_min": 1e-3, "lr_weight_max": 1e-3, "lr_bias_mean": 1e-3,
                "lr_bias_min": 1e-3, "lr_bias_max": 1e-3, "grad_norm": 1.0,
                "diverged": broken, "device": "cpu", "device_name": "test CPU",
                "torch_version": "test", "finished_at": 1.7e9 + seconds * epoch,
            }
        )  # fmt: skip
    return rows


def metrics(finals: dict, *, epochs=2, reading="default", seconds: dict | None = None):
    """A metrics DataFrame as load_metrics returns it. finals: {run or (run, size): [final
    test RER per seed, None = diverged]}; seconds: the same keys, per-epoch seconds."""
    rows = []
    for key, values in finals.items():
        run, size = key if isinstance(key, tuple) else (key, 0.1)
        for seed, final in enumerate(values):
            per_epoch = (seconds or {}).get(key, [1.0] * len(values))[seed]
            rows += job_rows(run, size, seed, final, epochs=epochs, reading=reading,
                             seconds=per_epoch)  # fmt: skip
    return pa.Table.from_pylist(rows, schema=FINETUNE_SCHEMA).to_pandas()


def noisy(centre: float, n: int = 3, scale: float = 0.01, seed: int = 0) -> list[float]:
    """n seeds around `centre`: a shared per-seed offset (as shared pre-training gives)
    plus a little noise of the run's own."""
    own = np.random.default_rng(seed).normal(0, scale, n)
    return [centre + (0.2, -0.1, 0.05, 0.0)[i % 4] + own[i] for i in range(n)]


# ------------------------------------------------------------------ loading and paper


def write_parquet(path, df: pd.DataFrame, schema=FINETUNE_SCHEMA):
    pq.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False), path)


def test_load_metrics_concatenates_jobs(tmp_path):
    a, b = metrics({"Cons+Cons": [8.0]}), metrics({"AdaMix+Power": [7.0, 7.5]})
    write_parquet(tmp_path / "a.parquet", a)
    write_parquet(tmp_path / "b.parquet", b)
    df = tables.load_metrics([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert list(df.columns) == FINETUNE_SCHEMA.names
    assert len(df) == len(a) + len(b) == 9
    assert tables.read_metrics([tmp_path / "a.parquet"]).schema.equals(FINETUNE_SCHEMA)
    assert tables.load_metrics([]).empty


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.remove(s.get_field_index("grad_norm")), "missing columns \\['grad_norm'\\]"),
        (lambda s: s.set(s.get_field_index("seed"), pa.field("seed", pa.int32(), False)),
         "seed: int32 not null instead of int64 not null"),
        (lambda s: s.append(pa.field("extra", pa.float64())), "unexpected columns \\['extra'\\]"),
    ],
)  # fmt: skip
def test_load_metrics_refuses_another_schema(tmp_path, change, message):
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    df = metrics({"Cons+Cons": [8.0]})
    write_parquet(good, df)
    schema = change(FINETUNE_SCHEMA)
    write_parquet(bad, df.assign(extra=1.0) if "extra" in schema.names else df, schema)
    with pytest.raises(ValueError, match=f"bad.parquet.*{message}"):
        tables.load_metrics([good, bad])


def test_paper_results_as_printed():
    paper = tables.paper_results()
    assert "Acta Automatica Sinica" in paper["citation"] and "42(6)" in paper["citation"]
    exps = paper["experiments"]
    assert exps["exp1"]["rer_epoch50"] == {
        "Cons+Cons": {0.1: 8.37},
        "AdaGrad+AdaGrad": {0.1: 8.47},
        "AdaDec+AdaDec": {0.1: 8.22},
        "AdaMix+Power": {0.1: 7.82},  # exp5 prints 7.81 for the same run
    }
    assert exps["exp5"]["rer_epoch50"] == {
        "AdaMix+Power": {0.1: 7.81, 0.3: 5.06, 0.6: 4.06, 1.0: 3.56}
    }
    assert exps["exp2"]["rer_epoch50"]["None+Cons"] == {0.1: 51.40}
    assert [exps[f"exp{i}"]["figure"] for i in range(1, 6)] == [4, 5, 6, 7, 8]
    assert exps["exp1"]["wall_seconds_50_epochs"] == {
        "Cons+Cons": 693.54, "AdaGrad+AdaGrad": 810.20, "AdaDec+AdaDec": 833.79,
        "AdaMix+Power": 752.56,
    }  # fmt: skip
    for name, exp in EXPERIMENTS.items():  # every run of every experiment has a value
        assert set(exps[name]["rer_epoch50"]) == set(exp["runs"])


# ------------------------------------------------------------------ statistics


def test_t_quantile_matches_student_t():
    assert tables.t_quantile_975(2) == pytest.approx(T2)
    assert tables.t_quantile_975(10**6) == pytest.approx(1.959964, abs=1e-5)
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 300):
        assert tables.t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-6)
    with pytest.raises(ValueError):
        tables.t_quantile_975(0)


def test_t_interval():
    x = [8.0, 8.5, 9.1]
    half = T2 * np.std(x, ddof=1) / math.sqrt(3)
    assert tables.t_interval(x) == pytest.approx((np.mean(x) - half, np.mean(x) + half))
    assert all(math.isnan(v) for v in tables.t_interval([8.0]))
    assert tables.t_interval([8.0, math.inf, 9.0, math.nan]) == pytest.approx(
        tables.t_interval([8.0, 9.0])
    )


# ------------------------------------------------------------------ tables


def test_final_rows_picks_the_final_epoch():
    df = metrics({"Cons+Cons": [8.0, None]}, epochs=3)
    final = tables.final_rows(df, epoch=3).set_index("seed")
    assert final.loc[0, "epoch"] == 3 and final.loc[0, "rer"] == 8.0
    assert final.loc[1, "failed"] and final.loc[1, "rer"] == math.inf
    assert math.isnan(final.loc[1, "seconds"])  # stopped early: no comparable time
    assert tables.final_rows(df, epoch=2).set_index("seed").loc[0, "rer"] == 9.0
    assert tables.final_rows(df).set_index("seed").loc[0, "epoch"] == 3
    with pytest.raises(ValueError, match="end before epoch 4 without diverging"):
        tables.final_rows(df, epoch=4)


def test_experiment_table_numbers():
    cons, adamix = [8.0, 8.5, 9.1], [7.0, 7.4, None]
    df = metrics({"Cons+Cons": cons, "AdaMix+Power": adamix, "Exp+Cons": [9.0]})
    table = tables.experiment_table(df, "exp1", EXPERIMENTS["exp1"], epoch=2)
    assert list(table["run"]) == ["Cons+Cons", "AdaMix+Power"]  # config order; Exp+Cons not in exp1
    row = table.set_index("run").loc["Cons+Cons"]
    mean, std = np.mean(cons), np.std(cons, ddof=1)
    assert (row["experiment"], row["figure"], row["reading"], row["size"]) == (
        "exp1",
        4,
        "default",
        0.1,
    )
    assert (row["epoch"], row["n_seeds"], row["n_diverged"]) == (2, 3, 0)
    assert row["rer_mean"] == pytest.approx(mean)
    assert row["rer_std"] == pytest.approx(std)
    assert row["rer_ci95_low"] == pytest.approx(mean - T2 * std / math.sqrt(3))
    assert row["rer_ci95_high"] == pytest.approx(mean + T2 * std / math.sqrt(3))
    assert row["paper_rer_epoch50"] == 8.37
    assert row["diff_vs_paper"] == pytest.approx(mean - 8.37)

    row = table.set_index("run").loc["AdaMix+Power"]  # the diverged seed is left out
    assert (row["n_seeds"], row["n_diverged"]) == (3, 1)
    assert row["rer_mean"] == pytest.approx(7.2)
    assert row["rer_ci95_high"] == pytest.approx(
        7.2 + T1 * np.std([7.0, 7.4], ddof=1) / math.sqrt(2)
    )
    assert row["paper_rer_epoch50"] == 7.82


def test_experiment_table_per_size_and_reading():
    df = pd.concat(
        [
            metrics({("AdaMix+Power", 0.1): [8.0], ("AdaMix+Power", 1.0): [4.0]}),
            metrics({("AdaMix+Power", 0.1): [9.0]}, reading="g_scale-mean"),
        ]
    )
    exp5 = {**EXPERIMENTS["exp5"], "readings": ["default", "g_scale-mean"]}
    table = tables.experiment_table(df, "exp5", exp5)
    assert list(zip(table["reading"], table["size"], table["rer_mean"], strict=True)) == [
        ("default", 0.1, 8.0), ("default", 1.0, 4.0), ("g_scale-mean", 0.1, 9.0),
    ]  # fmt: skip
    assert list(table["paper_rer_epoch50"]) == [7.81, 3.56, 7.81]
    assert table["rer_std"].isna().all() and table["rer_ci95_low"].isna().all()
    other = tables.experiment_table(df, "exp9", {**exp5, "figure": 9})  # not in the paper
    assert other["paper_rer_epoch50"].isna().all()


def test_walltime_table_numbers():
    finals = {run: [8.0, 8.0, 8.0] for run in EXPERIMENTS["exp1"]["runs"]}
    cons, adagrad = [1.0, 1.2, 1.1], [1.5, 1.5, 1.8]
    seconds = {"Cons+Cons": cons, "AdaGrad+AdaGrad": adagrad}
    df = metrics(finals, epochs=2, seconds=seconds)
    table = tables.walltime_table(df, EXPERIMENTS["exp1"], epoch=2).set_index("run")
    ours = 2 * np.array(adagrad)
    row = table.loc["AdaGrad+AdaGrad"]
    assert row["seconds_mean"] == pytest.approx(ours.mean())
    assert row["seconds_std"] == pytest.approx(ours.std(ddof=1))
    assert row["seconds_ci95_low"] == pytest.approx(
        ours.mean() - T2 * ours.std(ddof=1) / math.sqrt(3)
    )
    assert row["ratio_to_cons"] == pytest.approx(np.mean(np.array(adagrad) / cons))
    assert row["paper_seconds"] == 810.20
    assert row["paper_ratio_to_cons"] == pytest.approx(810.20 / 693.54)
    assert table.loc["Cons+Cons", "ratio_to_cons"] == 1.0
    assert table.loc["AdaMix+Power", "paper_ratio_to_cons"] == pytest.approx(752.56 / 693.54)


def test_write_table(tmp_path):
    df = pd.DataFrame({"run": ["Cons+Cons", "AdaMix+Power"], "rer": [8.371234, math.nan]})
    paths = [tmp_path / f"t.{ext}" for ext in ("csv", "md", "html")]
    tables.write_table(df, paths[0], paths[1], "A title", html_path=paths[2], note="A <note>")
    pd.testing.assert_frame_equal(pd.read_csv(paths[0]), df, check_dtype=False)
    md = paths[1].read_text().splitlines()
    assert md[0] == "# A title" and "A <note>" in md
    assert "8.371" in paths[1].read_text() and "nan" not in paths[1].read_text()
    html = paths[2].read_text()
    assert "<h1>A title</h1>" in html and "A &lt;note&gt;" in html and "<table" in html


# ------------------------------------------------------------------ claims


def verdicts(df, experiments=EXPERIMENTS, claim=None) -> list[str] | str:
    table = tables.claims_table(df, experiments, epoch=2)
    assert list(table["claim"].drop_duplicates()) == [1, 2, 3, 4, 5, 6]
    assert table["rule"].str.len().gt(50).all()
    if claim is None:
        return list(table["verdict"])
    (verdict,) = table.loc[table["claim"] == claim, "verdict"]
    return verdict


def exp1(adamix, others=8.3, n=3):
    return {
        run: noisy(adamix if run == "AdaMix+Power" else others, n, seed=i)
        for i, run in enumerate(EXPERIMENTS["exp1"]["runs"])
    }


def test_claim_1_adamix_lowest():
    assert verdicts(metrics(exp1(7.8)), claim=1) == HOLDS
    assert verdicts(metrics(exp1(8.6)), claim=1) == FAILS
    assert verdicts(metrics(exp1(7.8, n=1)), claim=1) == UNCLEAR  # one seed, 6% apart
    assert verdicts(metrics(exp1(4.0, n=1)), claim=1) == HOLDS  # one seed, a huge effect
    noisy_runs = {**exp1(8.3), "AdaMix+Power": [7.0, 9.5, 8.2]}
    assert verdicts(metrics(noisy_runs), claim=1) == UNCLEAR
    diverged = {**exp1(7.8), "AdaMix+Power": [7.8, 7.9, None]}  # loses on the third seed
    assert verdicts(metrics(diverged), claim=1) == UNCLEAR
    others_diverged = {**exp1(7.8), "Cons+Cons": [None, None, None]}
    assert verdicts(metrics(others_diverged), claim=1) == HOLDS
    assert verdicts(metrics(exp1(7.8)), {"exp2": EXPERIMENTS["exp2"]}, claim=1) == NOT_RUN
    no_adagrad = {k: v for k, v in exp1(7.8).items() if k != "AdaGrad+AdaGrad"}
    assert verdicts(metrics(no_adagrad), claim=1) == NOT_RUN


def exp1_seconds(adamix, n=3):
    return {
        "AdaMix+Power": noisy(adamix, n, seed=1),
        "AdaGrad+AdaGrad": noisy(1.2, n, seed=2),
        "AdaDec+AdaDec": noisy(1.3, n, seed=3),
        "Cons+Cons": noisy(1.0, n, seed=4),
    }


def test_claim_2_adamix_faster():
    finals = exp1(7.8)
    assert verdicts(metrics(finals, seconds=exp1_seconds(1.1)), claim=2) == HOLDS
    assert verdicts(metrics(finals, seconds=exp1_seconds(1.6)), claim=2) == FAILS
    one = exp1(7.8, n=1)
    assert verdicts(metrics(one, seconds=exp1_seconds(1.1, n=1)), claim=2) == UNCLEAR
    assert verdicts(metrics(finals), {}, claim=2) == NOT_RUN


def exp2(cons_none=8.5, none_cons=51.0, cons_cons=8.4, n=3):
    return {
        "Cons+None": noisy(cons_none, n, seed=1),
        "Cons+Cons": noisy(cons_cons, n, seed=2),
        "None+Cons": noisy(none_cons, n, seed=3),
    }


def test_claim_3_weights_matter():
    assert verdicts(metrics(exp2()), claim=3) == HOLDS
    assert verdicts(metrics(exp2(cons_none=12.0)), claim=3) == FAILS  # Cons+None far from Cons+Cons
    assert verdicts(metrics(exp2(none_cons=10.0)), claim=3) == FAILS  # None+Cons not far worse
    paper = {"Cons+None": [9.09], "Cons+Cons": [8.37], "None+Cons": [51.40]}
    assert verdicts(metrics(paper), claim=3) == UNCLEAR  # one seed: "close" cannot be shown
    assert verdicts(metrics(exp2()), {"exp1": EXPERIMENTS["exp1"]}, claim=3) == NOT_RUN


def exp3(adaptive=(8.2, 8.0, 7.9), simple=(8.4, 8.7, 8.5), n=3):
    runs = ["AdaGrad+Cons", "AdaDec+Cons", "AdaMix+Cons", "Cons+Cons", "Exp+Cons", "Power+Cons"]
    return {
        run: noisy(v, n, seed=i)
        for i, (run, v) in enumerate(zip(runs, adaptive + simple, strict=True))
    }


def test_claim_4_adaptive_weights():
    assert verdicts(metrics(exp3()), claim=4) == HOLDS
    assert verdicts(metrics(exp3(adaptive=(9.5, 8.0, 7.9))), claim=4) == FAILS
    assert verdicts(metrics(exp3(adaptive=(8.4, 8.0, 7.9))), claim=4) == UNCLEAR  # a tie
    paper = exp3((8.28, 8.10, 7.88), (8.37, 8.67, 8.38), n=1)
    assert verdicts(metrics(paper), claim=4) == UNCLEAR
    assert verdicts(metrics(exp3()), {}, claim=4) == NOT_RUN


def exp4(values=(8.37, 8.40, 8.35, 8.38, 8.36, 8.39), n=3):
    return {
        run: noisy(v, n, seed=i)
        for i, (run, v) in enumerate(zip(EXPERIMENTS["exp4"]["runs"], values, strict=True))
    }


def test_claim_5_bias_rules_minor():
    assert verdicts(metrics(exp4()), claim=5) == HOLDS
    assert verdicts(metrics(exp4((8.37, 8.40, 8.35, 10.0, 8.36, 8.39))), claim=5) == FAILS
    wide = {**exp4(), "Cons+Exp": [8.0, 8.9, 8.3]}  # CI straddles the ±5% margin
    assert verdicts(metrics(wide), claim=5) == UNCLEAR
    paper = exp4((8.37, 8.49, 8.31, 8.54, 8.44, 8.45), n=1)
    assert verdicts(metrics(paper), claim=5) == UNCLEAR
    diverged = {**exp4(), "Cons+AdaGrad": [8.4, 8.4, None]}
    assert verdicts(metrics(diverged), claim=5) == FAILS
    assert verdicts(metrics(exp4()), {}, claim=5) == NOT_RUN


def exp5(values=(7.8, 5.1, 4.1, 3.6), n=3):
    sizes = EXPERIMENTS["exp5"]["sizes"]
    return {
        ("AdaMix+Power", s): noisy(v, n, seed=i)
        for i, (s, v) in enumerate(zip(sizes, values, strict=True))
    }


def test_claim_6_more_data():
    assert verdicts(metrics(exp5()), claim=6) == HOLDS
    assert verdicts(metrics(exp5((7.8, 5.1, 4.1, 4.5))), claim=6) == FAILS
    assert verdicts(metrics(exp5((7.81, 5.06, 4.06, 3.56), n=1)), claim=6) == UNCLEAR
    one_size = {k: v for k, v in exp5().items() if k[1] == 0.1}
    assert (
        verdicts(metrics(one_size), {"exp5": {**EXPERIMENTS["exp5"], "sizes": [0.1]}}, claim=6)
        == UNCLEAR
    )
    assert verdicts(metrics(exp5()), {}, claim=6) == NOT_RUN


def test_claims_per_reading_and_all_experiments_together():
    df = pd.concat(
        [
            metrics({**exp1(7.8), **exp2(), **exp3(), **exp4(), **exp5()}),
            metrics(exp1(8.6), reading="g_scale-mean"),
        ]
    )
    experiments = {
        **EXPERIMENTS,
        "exp1": {**EXPERIMENTS["exp1"], "readings": ["default", "g_scale-mean"]},
    }
    table = tables.claims_table(df, experiments, epoch=2)
    got = list(zip(table["claim"], table["reading"], table["verdict"], strict=True))
    assert got[:2] == [(1, "default", HOLDS), (1, "g_scale-mean", FAILS)]
    assert [v for c, _, v in got if c >= 3] == [HOLDS, HOLDS, HOLDS, HOLDS]
    assert table.loc[table["claim"] == 6, "sizes"].item() == "0.1, 0.3, 0.6, 1"


def test_paired_direction_and_close():
    a, b = pd.Series([1.0, 2.0, math.inf]), pd.Series([2.0, 3.0, 4.0])
    p = tables.paired(a, b)
    assert list(p.diffs) == [-1.0, -1.0, math.inf] and p.ref == 3.0
    assert tables.direction(p) == 0  # the finite seeds say lower, the diverged one higher
    assert tables.direction(tables.paired(a[:2], b[:2])) == -1  # zero spread, a clear sign
    both = tables.paired(pd.Series([math.inf, 1.0]), pd.Series([math.inf, 1.5]))
    assert list(both.diffs) == [-0.5]  # a seed where both diverged carries no information
    assert (
        tables.close(tables.paired(pd.Series([1.0, 1.02]), pd.Series([1.0, 1.0])), 0.05) == UNCLEAR
    )
    assert (
        tables.close(tables.paired(pd.Series([1.0, 1.01, 1.0]), pd.Series([1.0] * 3)), 0.05)
        == HOLDS
    )
    assert tables.combine([]) == UNCLEAR
    assert tables.combine([HOLDS, UNCLEAR, FAILS]) == FAILS
