"""adamix.report.tables on synthetic metrics whose answers are known: loading and gathering the
per-job metrics, the paper's numbers (adamix.report.paper), the experiment and wall-time tables
and their files. The synthetic metrics here serve test_claims, test_figures and
test_reproduction too."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adamix.report import paper, tables
from adamix.report.metrics import FINETUNE_SCHEMA, load_metrics, read_metrics

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


def job_rows(
    run, size, seed, final, *, epochs=2, reading="default", seconds=1.0, dataset="mnist"
) -> list[dict]:
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
                "dataset": dataset, "reading": reading, "weight_rule": weight, "bias_rule": bias,
                "size": float(size), "seed": seed, "epochs": epochs, "batch_size": 100,
                "lr": 1e-3, "K": 1.0, "q": 0.75, "xi": 0.999, "timing": "current",
                "adadec": "paper", "t_unit": "step", "g_scale": "sum", "update": "step",
                "loss": "sse",
                "epoch": epoch, "step": 60 * epoch, "train_rer_sse": rer, "test_rer_sse": rer,
                "train_rer_mse": rer / 784, "test_rer_mse": rer / 784,
                "epoch_seconds": seconds if epoch else 0.0,
                "cumulative_seconds": seconds * epoch, "lr_weight_mean": 1e-3,
                "lr_weight_min": 1e-3, "lr_weight_max": 1e-3, "lr_bias_mean": 1e-3,
                "lr_bias_min": 1e-3, "lr_bias_max": 1e-3, "grad_norm": 1.0,
                "diverged": broken, "device": "cpu", "device_name": "test CPU",
                "torch_version": "test", "code": "c0de", "finished_at": 1.7e9 + seconds * epoch,
            }
        )  # fmt: skip
    return rows


def metrics(
    finals: dict, *, epochs=2, reading="default", seconds: dict | None = None, dataset="mnist"
):
    """A metrics DataFrame as load_metrics returns it. finals: {run or (run, size): [final
    test RER per seed, None = diverged]}; seconds: the same keys, per-epoch seconds."""
    rows = []
    for key, values in finals.items():
        run, size = key if isinstance(key, tuple) else (key, 0.1)
        for seed, final in enumerate(values):
            per_epoch = (seconds or {}).get(key, [1.0] * len(values))[seed]
            rows += job_rows(run, size, seed, final, epochs=epochs, reading=reading,
                             seconds=per_epoch, dataset=dataset)  # fmt: skip
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
    df = load_metrics([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert list(df.columns) == FINETUNE_SCHEMA.names
    assert len(df) == len(a) + len(b) == 9
    assert read_metrics([tmp_path / "a.parquet"]).schema.equals(FINETUNE_SCHEMA)
    assert load_metrics([]).empty


def test_gather_metrics_writes_one_parquet(tmp_path):
    a, b = metrics({"Cons+Cons": [8.0]}), metrics({"AdaMix+Power": [7.0, 7.5]})
    write_parquet(tmp_path / "a.parquet", a)
    write_parquet(tmp_path / "b.parquet", b)
    out = tmp_path / "metrics.parquet"
    tables.gather_metrics([tmp_path / "a.parquet", tmp_path / "b.parquet"], out)
    gathered = pq.read_table(out)
    assert gathered.schema.equals(FINETUNE_SCHEMA) and gathered.num_rows == 9
    pd.testing.assert_frame_equal(gathered.to_pandas(), pd.concat([a, b], ignore_index=True))


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
        load_metrics([good, bad])


def test_paper_results_as_printed():
    results = paper.paper_results()
    assert "Acta Automatica Sinica" in results["citation"] and "42(6)" in results["citation"]
    exps = results["experiments"]
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


def test_paper_lookups():
    assert paper.paper_rer("exp1", "AdaMix+Power", 0.1) == 7.82
    assert paper.paper_rer("exp5", "AdaMix+Power", 1) == 3.56  # sizes as numbers, 1 = 1.0
    assert math.isnan(paper.paper_rer("exp5", "AdaMix+Power", 0.01))  # a size not reported
    assert math.isnan(paper.paper_rer("exp2", "AdaMix+Power", 0.1))  # a run not in exp2
    assert math.isnan(paper.paper_rer("mine", "Cons+Cons", 0.1))  # not the paper's
    assert paper.paper_seconds("exp1")["AdaDec+AdaDec"] == 833.79
    assert paper.paper_seconds("exp2") == {} and paper.paper_seconds("mine") == {}
    paper.paper_results()["experiments"].clear()  # a copy: the lookups are unaffected
    paper.paper_seconds("exp1").clear()
    assert paper.paper_seconds("exp1")["Cons+Cons"] == 693.54


# ------------------------------------------------------------------ tables


def test_final_rows_picks_the_final_epoch():
    df = metrics({"Cons+Cons": [8.0, None]}, epochs=3)
    final = tables.final_rows(df, epoch=3).set_index("seed")
    assert final.loc[0, "epoch"] == 3 and final.loc[0, "rer"] == 8.0
    assert final.loc[1, "failed"] and final.loc[1, "rer"] == math.inf
    assert math.isnan(final.loc[1, "seconds"])  # stopped early: no comparable time
    assert tables.final_rows(df, epoch=2).set_index("seed").loc[0, "rer"] == 9.0
    assert tables.final_rows(df).set_index("seed").loc[0, "epoch"] == 3
    with pytest.raises(ValueError, match="1 job ended before epoch 4 without diverging"):
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


def test_an_experiment_on_another_data_set_has_its_own_rows_and_no_paper_values(tmp_path):
    """exp1's runs on Fashion-MNIST: only the fashion jobs, no paper value even under the
    paper experiment's own name, and the written table without the paper's columns."""
    df = pd.concat(
        [metrics({"Cons+Cons": [8.0, 8.2]}), metrics({"Cons+Cons": [20.0]}, dataset="fashion")]
    )
    on_fashion = {**EXPERIMENTS["exp1"], "dataset": "fashion"}
    table = tables.experiment_table(df, "exp1", on_fashion, epoch=2)
    assert list(zip(table["dataset"], table["n_seeds"], table["rer_mean"], strict=True)) == [
        ("fashion", 1, 20.0)
    ]
    assert table["paper_rer_epoch50"].isna().all()
    assert tables.experiment_table(df, "exp1", EXPERIMENTS["exp1"])["rer_mean"].item() == 8.1
    write_parquet(tmp_path / "m.parquet", df)
    out = {ext: tmp_path / f"t.{ext}" for ext in ("csv", "md", "html")}
    tables.write_experiment_table([tmp_path / "m.parquet"], out, "exp1", on_fashion, epoch=2)
    written = pd.read_csv(out["csv"])
    assert "paper_rer_epoch50" not in written and "diff_vs_paper" not in written
    assert "no paper values on fashion" in out["md"].read_text()


def test_walltime_table_numbers():
    finals = {run: [8.0, 8.0, 8.0] for run in EXPERIMENTS["exp1"]["runs"]}
    cons, adagrad = [1.0, 1.2, 1.1], [1.5, 1.5, 1.8]
    seconds = {"Cons+Cons": cons, "AdaGrad+AdaGrad": adagrad}
    df = metrics(finals, epochs=2, seconds=seconds)
    table = tables.walltime_table(df, "exp1", EXPERIMENTS["exp1"], epoch=2).set_index("run")
    ours = 2 * np.array(adagrad)
    row = table.loc["AdaGrad+AdaGrad"]
    assert row["seconds_mean"] == pytest.approx(ours.mean())
    assert row["seconds_std"] == pytest.approx(ours.std(ddof=1))
    # the interval of the geometric mean: exp of the t-interval of the mean log seconds
    logs = np.log(ours)  # ours = 3, 3, 3.6 s
    half = T2 * logs.std(ddof=1) / math.sqrt(3)
    assert row["seconds_gmean"] == pytest.approx(32.4 ** (1 / 3))  # (3 * 3 * 3.6)^(1/3)
    assert row["seconds_ci95_low"] == pytest.approx(math.exp(logs.mean() - half))
    assert row["seconds_ci95_high"] == pytest.approx(math.exp(logs.mean() + half))
    assert row["seconds_ci95_low"] == pytest.approx(2.4544, abs=1e-4)
    assert row["seconds_ci95_high"] == pytest.approx(4.1407, abs=1e-4)
    assert row["ratio_to_cons"] == pytest.approx(np.mean(np.array(adagrad) / cons))
    assert row["paper_seconds"] == 810.20
    assert row["paper_ratio_to_cons"] == pytest.approx(810.20 / 693.54)
    assert table.loc["Cons+Cons", "ratio_to_cons"] == 1.0
    assert table.loc["AdaMix+Power", "paper_ratio_to_cons"] == pytest.approx(752.56 / 693.54)
    # any experiment can have wall times; one the paper did not time has no paper columns
    other = tables.walltime_table(df, "mine", EXPERIMENTS["exp1"], epoch=2).set_index("run")
    pd.testing.assert_series_equal(other["ratio_to_cons"], table["ratio_to_cons"])
    assert other["paper_seconds"].isna().all() and other["paper_ratio_to_cons"].isna().all()


def test_walltime_interval_stays_positive_where_the_t_interval_would_not():
    # 1, 1 and 100 s over three seeds (x2 epochs): the t-interval of the mean seconds is
    # 34 -/+ 4.303 x 57.16 / sqrt(3) = [-107.99, 175.99] s; of the logs it is positive
    finals = {run: [8.0, 8.0, 8.0] for run in EXPERIMENTS["exp1"]["runs"]}
    df = metrics(finals, epochs=2, seconds={"AdaGrad+AdaGrad": [0.5, 0.5, 50.0]})
    row = tables.walltime_table(df, "exp1", EXPERIMENTS["exp1"], epoch=2).set_index("run")
    row = row.loc["AdaGrad+AdaGrad"]
    assert row["seconds_mean"] - T2 * row["seconds_std"] / math.sqrt(3) == pytest.approx(
        -107.99, abs=0.01
    )  # the t-interval of the seconds would go below 0
    assert row["seconds_gmean"] == pytest.approx(100 ** (1 / 3))  # (1 * 1 * 100)^(1/3)
    # log seconds 0, 0, ln 100: mean ln(100)/3, std ln(100)/sqrt(3), half T2 ln(100)/3
    half = T2 * math.log(100) / 3
    assert row["seconds_ci95_low"] == pytest.approx(math.exp(math.log(100) / 3 - half))
    assert row["seconds_ci95_low"] == pytest.approx(0.006284, rel=1e-3)
    assert row["seconds_ci95_high"] == pytest.approx(math.exp(math.log(100) / 3 + half))


def test_the_walltime_section_states_the_counted_update_cost():
    from adamix.report.walltime import walltime_section

    finals = {run: [8.0, 8.0, 8.0] for run in EXPERIMENTS["exp1"]["runs"]}
    table = tables.walltime_table(metrics(finals, epochs=2), "exp1", EXPERIMENTS["exp1"], epoch=2)
    text = walltime_section(table, "exp1", 2, "exp1_walltime.png")
    assert "Claim 2 by analysis" not in text  # no timing, no counts: nothing to state
    counted = {"AdaMix+Power": (5, 10, 56.7, 28.3), "AdaGrad+AdaGrad": (5, 8, 56.7, 22.7)}
    for run, (streams, flops, mb, mflops) in counted.items():
        row = table["run"] == run
        table.loc[row, tables.UPDATE_COST] = [streams, flops, mb, mflops]
    text = walltime_section(table, "exp1", 2, "exp1_walltime.png")
    assert (
        "Per weight element: AdaGrad+AdaGrad 5 passes and 8 flops (56.7 MB and 22.7 Mflop per"
        " step); AdaMix+Power 5 passes and 10 flops (56.7 MB and 28.3 Mflop per step)."
    ) in text
    # one seed: its seconds stand alone, no dash for the interval it cannot have
    one = tables.walltime_table(
        metrics({run: [8.0] for run in finals}, epochs=2), "exp1", EXPERIMENTS["exp1"], epoch=2
    )
    rows = [line.split("|") for line in walltime_section(one, "exp1", 2, "x.png").splitlines()]
    (adamix,) = [row for row in rows if len(row) > 3 and row[3].strip() == "AdaMix+Power"]
    assert re.fullmatch(r"\d+\.\d\d", adamix[5].strip()), adamix  # geometric mean alone


def test_write_table(tmp_path):
    df = pd.DataFrame({"run": ["Cons+Cons", "AdaMix+Power"], "rer": [8.371234, math.nan]})
    paths = [tmp_path / f"t.{ext}" for ext in ("csv", "md", "html")]
    tables.write_table(
        df, dict(zip(["csv", "md", "html"], paths, strict=True)), "A title", "A <note>"
    )
    pd.testing.assert_frame_equal(pd.read_csv(paths[0]), df, check_dtype=False)
    md = paths[1].read_text().splitlines()
    assert md[0] == "# A title" and "A <note>" in md
    assert "8.371" in paths[1].read_text() and "nan" not in paths[1].read_text()
    html = paths[2].read_text()
    assert "<h1>A title</h1>" in html and "A &lt;note&gt;" in html and "<table" in html


def test_write_experiment_table(tmp_path):
    for seed, final in enumerate([8.0, 8.5]):
        job = metrics({"Cons+Cons": [final]}).assign(seed=seed)
        write_parquet(tmp_path / f"seed{seed}.parquet", job)
    inputs = [tmp_path / "seed0.parquet", tmp_path / "seed1.parquet"]
    out = {ext: tmp_path / f"exp1.{ext}" for ext in ("csv", "md", "html")}
    table = tables.write_experiment_table(
        inputs, out, name="exp1", experiment=EXPERIMENTS["exp1"], epoch=2
    )
    assert list(table["run"]) == ["Cons+Cons"] and table["rer_mean"].item() == 8.25
    pd.testing.assert_frame_equal(pd.read_csv(out["csv"]), table, check_dtype=False)
    md = out["md"].read_text(encoding="utf-8").splitlines()
    assert md[0] == "# exp1 (paper figure 4): test RER at fine-tuning epoch 2"
    assert "<title>exp1 (paper figure 4): test RER" in out["html"].read_text()
    mine = {key: value for key, value in EXPERIMENTS["exp1"].items() if key != "figure"}
    tables.write_experiment_table(inputs, out, name="mine", experiment=mine, epoch=2)
    assert out["md"].read_text().startswith("# mine: test RER at fine-tuning epoch 2\n")


def test_step_milliseconds_per_reading_and_run():
    rows = [
        {"reading": "default", "run": run, "round": i, "seconds": s * load}
        for i, load in ((1, 1.0), (2, 2.0))
        for run, s in (("Cons+Cons", 0.010), ("AdaMix+Power", 0.015))
    ]
    steps = tables.step_milliseconds(pd.DataFrame(rows)).set_index("run")
    assert steps.loc["AdaMix+Power", "step_ms_mean"] == pytest.approx(22.5)  # (15 + 30) / 2
    assert steps.loc["AdaMix+Power", "step_ratio_to_cons"] == pytest.approx(1.5)  # per round
    assert steps.loc["Cons+Cons", "step_ratio_to_cons"] == pytest.approx(1.0)
    low, high = steps.loc["Cons+Cons", ["step_ms_ci95_low", "step_ms_ci95_high"]]
    assert low < 15 < high
    # 10 and 20 ms: geometric mean sqrt(200); logs ln 10, ln 20: std ln(2)/sqrt(2), so the
    # half-width is 12.706 x ln(2) / 2 (the t-interval of the ms, 15 -/+ 63.5, goes below 0)
    assert steps.loc["Cons+Cons", "step_ms_gmean"] == pytest.approx(math.sqrt(200))
    assert low == pytest.approx(math.sqrt(200) * math.exp(-T1 * math.log(2) / 2))
    assert high == pytest.approx(math.sqrt(200) * math.exp(T1 * math.log(2) / 2))
    assert low > 0
    assert steps["step_noise_floor"].isna().all()  # no replica in this timing


def test_reference_table_puts_a_run_beside_the_published_one(tmp_path):
    from adamix.atomic import sha256_of
    from adamix.report.metrics import load_reference, write_reference

    published = metrics({"Cons+Cons": [8.0, 8.2, 8.4], "AdaMix+Power": [7.0, 7.1, 7.2]})
    path = tmp_path / "published.parquet"
    write_parquet(path, published)
    reference = write_reference([path], tmp_path / "reference.parquet")
    assert len(reference) == len(published) and reference["test_rer_sse"].dtype == "float32"
    assert load_reference(tmp_path / "reference.parquet").equals(reference)
    ours = metrics({"Cons+Cons": [8.1, 8.3], "AdaMix+Power": [9.0, 9.1], "Adam+Adam": [6.0]})
    table = tables.reference_table(ours, reference, epoch=2).set_index("run")
    assert list(table.index) == ["Cons+Cons", "AdaMix+Power", "Adam+Adam"]
    cons = table.loc["Cons+Cons"]
    assert (cons["n_seeds"], cons["published_n_seeds"]) == (2, 3)
    assert cons["rer_mean"] == pytest.approx(8.2) and cons["published_mean"] == pytest.approx(8.2)
    assert cons["diff"] == pytest.approx(0, abs=1e-5) and cons["within_published_ci"] == "yes"
    assert table.loc["AdaMix+Power", "within_published_ci"] == "no"
    assert table.loc["AdaMix+Power", "diff"] == pytest.approx(9.05 - 7.1, rel=1e-5)
    assert table.loc["Adam+Adam", "within_published_ci"] == ""  # not in the reference
    with pytest.raises(ValueError, match="no published reference"):
        load_reference(tmp_path / "missing.parquet")
    blob = bytearray((tmp_path / "reference.parquet").read_bytes())
    blob[len(blob) // 2] ^= 1  # one flipped bit
    (tmp_path / "reference.parquet").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="reference.parquet: its sha256 is not the one"):
        load_reference(tmp_path / "reference.parquet")
    pd.DataFrame({"epoch": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="published.parquet.sha256: missing"):
        load_reference(path)
    (tmp_path / "published.parquet.sha256").write_text(f"{sha256_of(path)}  published.parquet\n")
    with pytest.raises(ValueError, match="not a reference of adamix.report.metrics"):
        load_reference(path)
