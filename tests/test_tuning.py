"""adamix.report.tuning on synthetic search and rerun jobs whose answers are known: the selection
reads the validation split only, ties and edges, the tuned table's ranks and paired
differences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_tables import metrics, write_parquet

from adamix.plan.cells import oneshot_reading, tuning_reading
from adamix.report import tuning
from adamix.report.stats import describe

RATES = [0.001, 0.01, 0.1]


def search_job(path, run, rate, val, test):
    """A search job's parquet: final validation RER `val`, final test RER `test`."""
    df = metrics({run: [test]}, reading=tuning_reading("default", rate))
    df = df.assign(lr=rate, val_rer_sse=df["test_rer_sse"] - test + val)
    write_parquet(path, df)
    return path


def test_selection_reads_the_validation_split_and_never_the_test_set(tmp_path):
    # On the validation split 0.01 is best; on the test set 0.001 would be.
    vals, tests = [9.0, 7.0, 8.0], [6.0, 9.0, 9.5]
    paths = [
        search_job(tmp_path / f"{i}.parquet", "Adam+Adam", rate, val, test)
        for i, (rate, val, test) in enumerate(zip(RATES, vals, tests, strict=True))
    ]
    cells = [["default", "Adam+Adam", rate] for rate in RATES]
    search = tuning.search_results(paths, cells, epoch=2)
    assert list(search["val_rer"]) == vals
    (chosen,) = tuning.select(search, RATES).itertuples()
    assert (chosen.rate, chosen.val_rer, chosen.edge) == (0.01, 7.0, False)
    # The same files without any test column: the same answer (nothing else is read).
    for path in paths:
        table = pq.read_table(path)
        keep = [n for n in table.column_names if not n.startswith("test_")]
        pq.write_table(table.select(keep), path)
    again = tuning.select(tuning.search_results(paths, cells, epoch=2), RATES)
    pd.testing.assert_frame_equal(again, tuning.select(search, RATES))


def test_select_ties_edges_and_divergence():
    search = pd.DataFrame(
        {
            "reading": ["default"] * 9,
            "run": ["A+A"] * 3 + ["B+B"] * 3 + ["C+C"] * 3,
            "rate": RATES * 3,
            "val_rer": [5.0, 5.0, 6.0, 9.0, 8.0, 7.0, math.inf, math.inf, math.inf],
        }
    )
    chosen = tuning.select(search, RATES).set_index("run")
    assert chosen.loc["A+A", "rate"] == 0.001 and chosen.loc["A+A", "edge"]  # tie: smaller
    assert chosen.loc["B+B", "rate"] == 0.1 and chosen.loc["B+B", "edge"]
    assert math.isnan(chosen.loc["C+C", "rate"]) and not chosen.loc["C+C", "edge"]


def test_tuned_table_ranks_and_pairs_with_adamix():
    finals = {"AdaMix+Power": [8.0, 8.4, 8.2], "Adam+Adam": [7.0, 7.6, 7.1],
              "Cons+Cons": [9.0, 9.5, None]}  # fmt: skip
    rates = {"AdaMix+Power": 0.001, "Adam+Adam": 0.01, "Cons+Cons": 0.1}
    df = pd.concat(
        [
            metrics({run: values}, reading=tuning_reading("default", rates[run]))
            for run, values in finals.items()
        ]
    )
    selected = pd.DataFrame(
        {"reading": "default", "run": list(rates), "rate": list(rates.values()),
         "val_rer": [1.0, 2.0, 3.0], "edge": [False, False, True]}
    )  # fmt: skip
    table = tuning.tuned_table(df, selected, epoch=2).set_index("run")
    assert list(table["rank"]) == [2, 1, 3]
    adam = table.loc["Adam+Adam"]
    diffs = np.subtract(finals["Adam+Adam"], finals["AdaMix+Power"])
    expected = describe(diffs)
    assert adam["diff_vs_AdaMix+Power"] == pytest.approx(expected["mean"])
    assert (
        adam["diff_ci95_high"] == pytest.approx(expected["ci95_high"])
        and adam["diff_ci95_high"] < 0
    )
    assert adam["vs_AdaMix+Power"] == "lower"
    cons = table.loc["Cons+Cons"]
    assert (cons["n_seeds"], cons["n_diverged"], cons["edge"]) == (3, 1, True)
    assert cons["rer_mean"] == pytest.approx(9.25)
    assert pd.isna(table.loc["AdaMix+Power", "vs_AdaMix+Power"])
    assert set(table["choice"]) == {"tuned"}


def test_tuned_table_adds_the_one_shot_runs_unranked():
    """The one-shot cells (default~library: a modern run at its library's rate, as rule
    tuning_metrics gathers them) are rows of their own: unranked, compared with tuned
    AdaMix+Power, and never counted as the tuned run of the same name."""
    tuned = {"AdaMix+Power": [8.0, 8.4, 8.2], "RMSprop+RMSprop": [7.0, 7.6, 7.1]}
    df = pd.concat(
        [
            metrics({run: values}, reading=tuning_reading("default", 0.001))
            for run, values in tuned.items()
        ]
        + [
            metrics({"RMSprop+RMSprop": [30.0, 31.0, 29.0]},
                    reading=oneshot_reading("default")).assign(lr=0.01)
        ]
    )  # fmt: skip
    selected = pd.DataFrame(
        {"reading": "default", "run": list(tuned), "rate": 0.001, "val_rer": [1.0, 2.0],
         "edge": False}
    )  # fmt: skip
    table = tuning.tuned_table(df, selected, epoch=2)
    assert list(zip(table["run"], table["choice"], table["rate"], strict=True)) == [
        ("AdaMix+Power", "tuned", 0.001),
        ("RMSprop+RMSprop", "tuned", 0.001),
        ("RMSprop+RMSprop", "library", 0.01),
    ]
    assert list(table["rank"][:2]) == [2, 1] and pd.isna(table["rank"].iloc[2])
    library = table.iloc[2]
    assert library["reading"] == "default" and library["rer_mean"] == pytest.approx(30.0)
    assert library["diff_vs_AdaMix+Power"] == pytest.approx(30.0 - np.mean(tuned["AdaMix+Power"]))
    assert library["vs_AdaMix+Power"] == "higher"
    # the claim and the learning curves read the tuned rows only
    assert set(tuning.base_reading(df)["reading"]) == {"default"}
    assert len(tuning.base_reading(df)) == len(df) - 3 * 3


def test_tuning_metrics_hold_the_cells_alone_when_a_one_shot_run_reuses_a_search_job(tmp_path):
    """RMSprop's library rate (0.01) is a grid rate: its one-shot cell reuses the search job
    default~lr0.01, while its tuned cell is default~lr0.0003. The gathered file (rule
    tuning_metrics) holds each cell once, so claim 7 sees one tuned RMSprop per seed."""
    from adamix.report import claims, tables

    def job(run, rate, finals):
        reading = tuning_reading("default", rate)
        return metrics({run: finals}, reading=reading).assign(lr=rate)

    jobs = {
        "search": job("RMSprop+RMSprop", 0.01, [90.0, 95.0, 99.0]),
        "RMSprop+RMSprop": job("RMSprop+RMSprop", 0.0003, [6.4, 6.6, 6.5]),
        "AdaMix+Power": job("AdaMix+Power", 0.001, [7.5, 7.5, 7.6]),
        **{run: job(run, 0.001, [8.0, 8.2, 8.1])
           for run in ("Momentum+Momentum", "Nesterov+Nesterov", "Adam+Adam")},
    }  # fmt: skip
    for name, df in jobs.items():
        write_parquet(tmp_path / f"{name}.parquet", df)
    cells = [
        ["mnist", reading, run, reading, {"lr": float(df["lr"].iloc[0])}]
        for run, df in jobs.items()
        if run != "search"
        for reading in df["reading"].unique()
    ] + [["mnist", "default~library", "RMSprop+RMSprop", "default~lr0.01", {"lr": 0.01}]]
    out = tmp_path / "tuning.parquet"
    tables.gather_metrics(
        [tmp_path / f"{name}.parquet" for name in jobs], out, cells=cells, only_cells=True
    )
    gathered = pd.read_parquet(out)
    assert sorted(gathered["reading"].unique()) == sorted({cell[1] for cell in cells})
    assert len(gathered) == sum(len(df) for df in jobs.values())  # each cell once
    tuned = tuning.base_reading(gathered)
    assert len(tuned[tuned["weight_rule"] == "RMSprop"]) == len(jobs["RMSprop+RMSprop"])
    table = claims.claims_table(gathered.iloc[:0], experiments={}, epoch=2, tuned=gathered)
    claim7 = table[table["claim"] == claims.TUNED.number]
    assert list(claim7["verdict"]) == ["does not hold"]  # tuned RMSprop reliably lower


def test_search_job_that_stopped_early_counts_as_diverged(tmp_path):
    path = search_job(tmp_path / "a.parquet", "Adam+Adam", 0.1, 7.0, 7.0)
    table = pq.read_table(path).to_pandas()
    short = table[table["epoch"] < 2]  # stopped before the final epoch
    pq.write_table(pa.Table.from_pandas(short, schema=pq.read_schema(path)), path)
    search = tuning.search_results([path], [["default", "Adam+Adam", 0.1]], epoch=2)
    assert search["val_rer"].item() == math.inf


@pytest.mark.parametrize("search_seed", [100, 0])  # outside the seeds; one of them (older)
def test_reference_holds_the_search_runs_and_every_rows_rate(tmp_path, search_seed):
    """The published reference (adamix.report.metrics.write_reference, rule publish) keeps
    the search jobs beside the cells, each row with its role and initial rate; its readers
    (load_reference) see the cells alone unless they ask for the search, so the search's
    seed never counts as a tuned run's, even when it is one of the study's seeds."""
    from adamix.report import tables
    from adamix.report.metrics import load_reference, write_reference

    def job(run, rate, finals):  # its validation RER that of the test set
        df = metrics({run: finals}, reading=tuning_reading("default", rate))
        return df.assign(lr=rate, val_rer_sse=df["test_rer_sse"])

    experiment = metrics({"Cons+Cons": [8.0, 8.1, 8.2]})  # reading default, lr 0.001
    write_parquet(tmp_path / "metrics.parquet", experiment)
    tuned = job("Adam+Adam", 0.01, [7.0, 7.1, 7.2])  # the rate its search chose
    library = job("Adam+Adam", 0.001, [7.5, 7.6, 7.7])  # Adam's library rate, untuned
    write_parquet(tmp_path / "tuned.parquet", tuned)
    write_parquet(tmp_path / "library.parquet", library)
    cells = [
        ["mnist", "default~lr0.01", "Adam+Adam", "default~lr0.01", {"lr": 0.01}],
        ["mnist", "default~library", "Adam+Adam", "default~lr0.001", {"lr": 0.001}],
    ]
    tables.gather_metrics(
        [tmp_path / "tuned.parquet", tmp_path / "library.parquet"],
        tmp_path / "tuning.parquet", cells=cells, only_cells=True,
    )  # fmt: skip
    search = []
    for run in ("Cons+Cons", "Adam+Adam"):
        for rate, val in zip(RATES, [9.0, 7.0, 8.0], strict=True):
            path = tmp_path / f"search_{run}_{rate}.parquet"
            df = job(run, rate, [val])
            if rate == 0.001:  # the study's rate: the job ran under reading default
                df = df.assign(reading="default")
            if run == "Adam+Adam" and rate == 0.01 and search_seed == 0:
                df = tuned[tuned["seed"] == 0]  # the search job is the rerun's seed 0
            write_parquet(path, df.assign(seed=search_seed))
            search.append((path, ["default", run, rate]))
    out = tmp_path / "reference" / "metrics.parquet"
    out.parent.mkdir()
    write_reference([tmp_path / "metrics.parquet", tmp_path / "tuning.parquet"], out, search)
    assert (tmp_path / "reference" / "metrics.parquet.sha256").is_file()

    everything = load_reference(out, search=True)
    rows = everything[everything["role"] == "search"]
    assert len(rows) == 2 * len(RATES) * 3  # runs x rates x epochs 0-2
    assert set(rows["seed"]) == {search_seed} and rows["val_rer_sse"].notna().all()
    for reading, group in rows.groupby("reading"):
        (rate,) = set(group["lr"])
        assert rate in RATES and reading == tuning_reading("default", rate)
    final = rows[(rows["epoch"] == 2) & (rows["weight_rule"] == "Adam")]
    assert dict(zip(final["lr"], final["val_rer_sse"], strict=True)) == pytest.approx(
        {0.001: 9.0, 0.01: 7.0, 0.1: 8.0}
    )
    with pytest.raises(ValueError, match="not the search job of Adam\\+Adam at rate 0.1"):
        write_reference(
            [], tmp_path / "wrong.parquet", [(search[0][0], ["default", "Adam+Adam", 0.1])]
        )
    cells_only = load_reference(out)
    assert len(cells_only) == len(everything) - len(rows)
    roles = cells_only.groupby("role")[["reading", "lr"]].agg(lambda s: sorted(set(s)))
    assert roles.to_dict("index") == {
        "experiment": {"reading": ["default"], "lr": [0.001]},
        "library": {"reading": ["default~library"], "lr": [0.001]},
        "tuned": {"reading": ["default~lr0.01"], "lr": [0.01]},
    }
    # compare (adamix.report.tables.reference_table): the tuned cell has its 3 seeds
    gathered = pd.read_parquet(tmp_path / "tuning.parquet")
    table = tables.reference_table(gathered, cells_only, epoch=2).set_index("reading")
    assert table.loc["default~lr0.01", "published_n_seeds"] == 3
    assert table.loc["default~lr0.01", "published_mean"] == pytest.approx(7.1)


def test_reference_keeps_the_seeds_that_decide_added_apart(tmp_path):
    """The jobs of the seeds that `decide` added (beyond config seeds) are in the
    reference with role "added"; readers see the config's seeds unless they ask."""
    from adamix.report.metrics import load_reference, write_reference

    write_parquet(tmp_path / "metrics.parquet", metrics({"AdaMix+Power": [7.0, 7.1, 7.2]}))
    added = []
    for seed, final in ((3, 7.3), (4, 7.4)):
        path = tmp_path / f"seed{seed}.parquet"
        write_parquet(path, metrics({"AdaMix+Power": [final]}).assign(seed=seed))
        added.append(path)
    out = tmp_path / "reference.parquet"
    write_reference([tmp_path / "metrics.parquet"], out, added=added)
    assert set(load_reference(out)["seed"]) == {0, 1, 2}
    everything = load_reference(out, added=True)
    rows = everything[everything["role"] == "added"]
    assert set(rows["seed"]) == {3, 4} and len(rows) == 2 * 3  # 2 seeds x epochs 0-2
    final = rows[rows["epoch"] == rows["epoch"].max()].sort_values("seed")
    assert final["test_rer_sse"].tolist() == pytest.approx([7.3, 7.4])
