"""The write-up (results/reproduction/, published to docs/): rendered by the real pipeline
from its own tables, and by adamix.report.writeup (its prose in adamix/report/templates/) on
hand-made tables whose answers are known."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from test_tables import metrics

from adamix.report import claims, sections, tables, writeup
from adamix.report.metrics import load_reference
from conftest import REPO, TEST_CONFIG, copy_workflow, snakemake

CONFIG = yaml.safe_load(TEST_CONFIG.read_text())
DEFAULTS = yaml.safe_load((REPO / "config.yaml").read_text())  # what CONFIG extends
NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def section(text: str, heading: str) -> str:
    """The part of `text` from the line `heading` to the next heading of the same level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    end = text.find(f"\n{level} ", start + len(heading))
    return text[start : end if end >= 0 else None]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in `text`."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def figure_links(text: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


# ------------------------------------------------------------------ the real pipeline


WRITEUP = Path("results") / "reproduction"  # the write-up of a run (docs/: `publish`)


@pytest.fixture(scope="module")
def document(pipeline) -> str:
    return (pipeline / WRITEUP / "reproduction.md").read_text(encoding="utf-8")


def test_each_experiment_shows_every_default_run_with_our_mean(pipeline, document):
    shown = set()
    for name, exp in CONFIG["experiments"].items():
        if exp.get("dataset", "mnist") != "mnist":
            continue  # test_the_second_data_set_has_a_section_of_its_own
        number = exp.get("figure", DEFAULTS["experiments"].get(name, {}).get("figure"))
        figure = f" (cf. paper fig. {number})" if number is not None else ""  # not the paper's
        short = name.removeprefix("exp")
        start = f"### Experiment {short if short.isdigit() else f'`{name}`'}{figure}: "
        cells = (tuple(exp["runs"]), tuple(exp["sizes"]))
        if cells in shown:  # exp1's runs and sizes again (exp1_subsets): exp1's section
            assert start not in document
            continue
        shown.add(cells)
        heading = next(line for line in document.splitlines() if line.startswith(start))
        part = section(document, heading)
        csv = pd.read_csv(pipeline / f"results/tables/{name}.csv")
        default = csv[csv["reading"] == "default"]
        assert len(default) == len(exp["runs"]) * len(exp["sizes"])
        rows = table_rows(part)
        for row in default.itertuples():
            line = [r for r in rows if r[:2] == [row.run, f"{row.size:g}"]]
            assert len(line) == 1, (name, row.run)
            assert line[0][2].startswith(f"{row.rer_mean:.2f}"), line


def test_headline_says_the_paper_has_no_value_at_the_test_sizes(document):
    headline = section(document, "## Headline: paper vs ours")
    assert "The paper has no value at these data sizes (0.01, 0.02)" in headline


def test_every_claim_verdict_is_shown(pipeline, document):
    claims = pd.read_csv(pipeline / "results/tables/claims.csv", dtype=str, keep_default_na=False)
    rows = table_rows(section(document, "## Claims"))
    fashion = table_rows(section(document, "### Claims on fashion"))
    for claim in claims.itertuples():
        expected = [claim.claim, claim.statement, claim.experiment, claim.reading,
                    claim.sizes, claim.verdict]  # fmt: skip
        assert expected in (fashion if claim.dataset == "fashion" else rows)


def test_the_second_data_set_has_a_section_of_its_own(pipeline, document):
    """Fashion-MNIST's experiments: our numbers per reading, no paper column, after MNIST's."""
    part = section(document, "## A second data set: fashion")
    assert document.index("## A second data set") > document.index("## Ablation")
    for name in ("fashion_exp1", "fashion_exp3", "fashion_exp4"):
        csv = pd.read_csv(pipeline / f"results/tables/{name}.csv")
        heading = next(line for line in part.splitlines() if line.startswith(f"### `{name}`"))
        rows = table_rows(section(part, heading))
        assert rows[0] == ["run", "size", "default"]
        for row in csv.itertuples():
            line = [r for r in rows if r[:2] == [row.run, f"{row.size:g}"]]
            assert len(line) == 1 and line[0][2].startswith(f"{row.rer_mean:.2f}"), line
    assert "fashion_exp1" not in section(document, "## Headline: paper vs ours")


def test_ablation_names_every_reading(document):
    ablation = section(document, "## Ablation: the paper's ambiguities")
    names = ["default", "g_scale-mean", "pretrain_epochs-0", "per_epoch", "g_scale-mean_per_epoch"]
    readings = [row[0] for row in table_rows(ablation)[2:7]]
    assert readings == names
    assert "update=epoch" in table_rows(ablation)[5][1]  # per_epoch's override
    header = table_rows(ablation)[7]  # the second table's header
    assert header[-5:] == names
    assert "## Pre-training ablation" in document


def test_setup_names_device_seeds_and_wall_time(pipeline, document):
    setup = section(document, "## Setup")
    device = pd.read_parquet(pipeline / "results/metrics.parquet", columns=["device"])
    for name in device["device"].unique():
        assert f"`{name}`" in setup
    assert "- Seeds: 0;" in setup
    (code,) = pd.read_parquet(pipeline / "results/metrics.parquet", columns=["code"])[
        "code"
    ].unique()
    assert f"- Numeric code: digest `{code}` (adamix.provenance), the same for every" in setup
    # each distinct run once: Cons+Cons under g_scale-mean is the default's job; + 6:
    # exp1_readings' adaptive runs per epoch
    jobs = list((pipeline / "results" / "finetune").glob("*/*/*/*/seed*/metrics.parquet"))
    search = f"seed{CONFIG['tuning']['search_seed']}"
    jobs = [job for job in jobs if job.parts[-2] != search]  # not the tuning's search
    assert len(jobs) == 27 + 6 + 6
    assert f"Fine-tuning of the experiments: {len(jobs)} jobs of 2 epochs each" in setup
    cells = pd.read_parquet(pipeline / "results/metrics.parquet", columns=tables.JOB)
    cells = cells.drop_duplicates()
    assert len(cells) > len(jobs)
    assert f"They fill {len(cells)} cells (reading, run, size, seed)" in setup
    assert re.search(r"Wall time of the run: (\d+ h )?(\d+ min )?[\d.]+ s,", setup), setup


def test_figures_exist_and_are_small(pipeline, document):
    links = figure_links(document)
    walltimes = [f"{n}_walltime" for n, exp in CONFIG["experiments"].items() if exp.get("walltime")]
    assert walltimes == ["exp1_walltime"]
    continua = [
        f"{n}_continuum" for n, exp in CONFIG["experiments"].items() if exp.get("continuum")
    ]
    assert continua == ["exp1_readings_continuum"]
    # exp1_readings has exp1's cells and exp1_ambiguities exp1_subsets' in this config, so
    # each is shown once (under the first)
    repeats = {"exp1_readings", "exp1_ambiguities"}
    assert sorted(links) == sorted(
        f"figures/{name}.png"
        for name in [
            *(n for n in CONFIG["experiments"] if n not in repeats),
            *walltimes,
            *continua,
            "tuning_sensitivity",
            "tuning_curves",
        ]
    )
    for link in links:
        path = pipeline / WRITEUP / link
        assert path.stat().st_size < 300_000, path


def test_the_tuned_comparison_shows_each_tuned_run(pipeline, document):
    part = section(document, "## Beyond the paper: a tuned comparison")
    table = pd.read_csv(pipeline / "results/tables/tuning.csv")
    rows = table_rows(part)
    assert rows[0][:4] == ["reading", "run", "rate", "ours: mean [95% CI]"]
    for row in table.itertuples():
        library = row.choice == "library"
        (line,) = [
            r for r in rows
            if r[:2] == [row.reading, row.run] and r[2].endswith(" (library)") == library
        ]  # fmt: skip
        assert line[2].startswith(f"{row.rate:g}") and line[3].startswith(f"{row.rer_mean:.2f}")
    assert "(library)" in part  # the one-shot Adam+Adam


def test_no_nan_and_generated_notice(document):
    assert not NAN.search(document)
    assert document.startswith("<!-- Generated by `snakemake writeup` (rule reproduction_doc)")
    assert "<!-- from docs/reproduction_discussion.md" in document


def test_an_ordinary_run_leaves_docs_alone(pipeline):
    # The default target writes the run's write-up under results/; docs/ holds only the
    # hand-written discussion that conftest copied there.
    assert [p.name for p in (pipeline / "docs").iterdir()] == ["reproduction_discussion.md"]


def test_publish_refuses_a_run_that_is_not_the_default_study(pipeline):
    result = snakemake(pipeline, "--cores", "1", "publish", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "publish copies only the write-up of the full default study" in output
    assert "seeds [1, 2] of config.yaml are not run" in output
    assert "finetune: epochs differ from config.yaml" in output
    assert [p.name for p in (pipeline / "docs").iterdir()] == ["reproduction_discussion.md"]


def test_publish_plans_the_default_study(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    result = snakemake(workdir, "-n", "publish", config=None)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    assert counts["publish"] == "1" and counts["reproduction_doc"] == "1"


# ------------------------------------------------------------------ hand-made tables

EXP1 = ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec", "AdaMix+Power"]
EXP2 = ["Cons+None", "Cons+Cons", "None+Cons"]


def tiny_config(size: float) -> dict:
    """Experiments 1 (two readings) and 2 at one data size, two seeds, 2 layers."""
    return {
        "seeds": [0, 1],
        "data": {"sizes": [size]},
        "model": {"layers": [4, 3, 2]},
        "pretrain": {"epochs": 1},
        "finetune": {
            "epochs": 2, "timing": "current", "adadec": "paper", "t_unit": "step",
            "g_scale": "sum",
        },
        "readings": {"default": {}, "g_scale-mean": {"g_scale": "mean"}},
        "experiments": {
            "exp1": {"figure": 4, "runs": EXP1, "sizes": [size],
                     "readings": ["default", "g_scale-mean"], "walltime": True},
            "exp2": {"figure": 5, "runs": EXP2, "sizes": [size], "readings": ["default"]},
        },
    }  # fmt: skip


def tiny_results(tmp_path, config: dict) -> dict:
    """results/ as the pipeline writes it, from synthetic metrics (test_tables.metrics):
    fine-tuning rows finish at 1.7e9 + 2 s, pre-training epochs start at 1.7e9 - 105 s.
    Returns the named inputs rule reproduction_doc would hand the write-up (no tuning)."""
    size = config["data"]["sizes"][0]
    runs = {(run, size): [8.0, 8.2] for run in dict.fromkeys(EXP1 + EXP2)}
    df = pd.concat(
        [metrics(runs), metrics({(run, size): [8.1, 8.3] for run in EXP1}, reading="g_scale-mean")],
        ignore_index=True,
    )
    results = tmp_path / "results"
    for folder in ("tables", "figures", "pretrain"):
        (results / folder).mkdir(parents=True)
    inputs = {
        "experiment_tables": [], "walltime_tables": [], "figures": [], "others": [],
        "pretrain": [], "metrics": results / "metrics.parquet",
        "claims": results / "tables/claims.csv", "tuning": results / "tables/tuning.csv",
        "discussion": tmp_path / "missing.md",
    }  # fmt: skip
    df.to_parquet(inputs["metrics"])
    for name, exp in config["experiments"].items():
        inputs["experiment_tables"].append(results / f"tables/{name}.csv")
        tables.experiment_table(df, name, exp, epoch=2).to_csv(
            inputs["experiment_tables"][-1], index=False
        )
        inputs["figures"].append(results / f"figures/{name}.png")
        Image.new("RGB", (20, 10), "white").save(inputs["figures"][-1])
        if exp.get("walltime"):
            inputs["figures"].append(results / f"figures/{name}_walltime.png")
            Image.new("RGB", (20, 10), "white").save(inputs["figures"][-1])
            inputs["walltime_tables"].append(results / f"tables/{name}_walltime.csv")
            walltime = tables.walltime_table(df, name, exp, epoch=2)
            walltime.to_csv(inputs["walltime_tables"][-1], index=False)
    claims.claims_table(df, config["experiments"], epoch=2).to_csv(inputs["claims"], index=False)
    # the pre-training errors of every seed and layer (the write-up reads the files it is
    # given, whatever their names)
    layers = range(1, len(config["model"]["layers"]))
    for seed, layer in [(seed, layer) for seed in config["seeds"] for layer in layers]:
        inputs["pretrain"].append(results / f"pretrain/seed{seed}_layer{layer}.parquet")
        pd.DataFrame(
            {"layer": [layer], "epoch": [1], "recon_sse": [1.0], "seconds": [5.0],
             "finished_at": [1.7e9 - 100], "dataset": ["mnist"], "reading": ["default"],
             "size": [size], "seed": [seed], "device": ["cpu"], "device_name": ["test CPU"]}
        ).to_parquet(inputs["pretrain"][-1])  # fmt: skip
    return inputs


def render(tmp_path, size: float, config: dict | None = None) -> str:
    config = config or tiny_config(size)
    inputs = tiny_results(tmp_path, config)
    out = tmp_path / "docs" / "reproduction.md"
    writeup.write_reproduction(config, inputs, out, tmp_path / "docs/figures")
    return out.read_text(encoding="utf-8")


def test_headline_shows_cons_cons_once_and_every_paper_number(tmp_path):
    text = render(tmp_path, 0.1)
    headline = section(text, "## Headline: paper vs ours")
    rows = table_rows(headline)[2:]
    # exp1's four runs, then exp2's without Cons+Cons (same run, same paper value 8.37)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("exp1", "Cons+Cons", "8.37"), ("exp1", "AdaGrad+AdaGrad", "8.47"),
        ("exp1", "AdaDec+AdaDec", "8.22"), ("exp1", "AdaMix+Power", "7.82"),
        ("exp2", "Cons+None", "9.09"), ("exp2", "None+Cons", "51.40"),
    ]  # fmt: skip
    # mean of 8.0 and 8.2 over two seeds, its t-interval, and ours - paper, per reading
    assert rows[0][4:] == ["8.10 [6.83, 9.37]", "-0.27", "8.20 [6.93, 9.47]", "-0.17", "2"]
    assert rows[4][6:] == ["–", "–", "2"]  # exp2 did not run under g_scale-mean
    assert (
        "**Verdict.** Under `default`, 5 of the 6 paper numbers it ran lie within our 95%"
        " prediction interval for one run and 4 within 10% of our mean (median distance"
        " 4%); under `g_scale-mean`,"
        " 4 of the 4 paper numbers it ran" in headline
    )
    assert "The reading closest to the paper is `g_scale-mean`." in headline
    assert "Cons+Cons at size 0.1 is the same run in exp1 and exp2," in headline
    assert "no value at these data sizes" not in headline
    assert not NAN.search(text)


def test_headline_without_paper_numbers_says_so(tmp_path):
    text = render(tmp_path, 0.01)
    headline = section(text, "## Headline: paper vs ours")
    assert "The paper has no value at these data sizes (0.01)" in headline
    assert len(table_rows(headline)) == 2 + 6  # header, rule, six distinct runs
    setup = section(text, "## Setup")
    # from the first pre-training epoch (1.7e9 - 105 s) to the last fine-tuning row (+2 s)
    assert "Wall time of the run: 1 min 47 s," in setup
    assert "- Device: `cpu` (test CPU)." in setup
    assert "Discussion\n\n<!-- from" in text and "Not written yet." in text
    assert not NAN.search(text)


def test_wall_times_of_the_experiments_that_ask_for_them(tmp_path):
    text = render(tmp_path / "paper", 0.1)
    walltime = section(text, "## Wall time (experiment 1)")
    assert figure_links(walltime) == ["figures/exp1_walltime.png"]
    assert [row[2] for row in table_rows(walltime)[2:]] == EXP1 + EXP1  # two readings
    assert ["default", "0.1", "AdaGrad+AdaGrad"] == table_rows(walltime)[3][:3]
    # the paper's seconds and ratio; no controlled timing in these results: dashes (its
    # milliseconds, ratio and noise floor)
    assert table_rows(walltime)[3][-5:] == ["810.20", "1.17", "–", "–", "–"]

    # Another experiment's wall times (no paper seconds), and none for exp1; an experiment
    # the paper does not have, without a figure number, is described by its runs.
    config = tiny_config(0.1)
    config["experiments"]["exp1"].pop("walltime")
    config["experiments"]["mine"] = {"runs": EXP2[:2], "sizes": [0.1], "readings": ["default"],
                                     "walltime": True}  # fmt: skip
    text = render(tmp_path / "mine", 0.1, config)
    assert "## Wall time (experiment 1)" not in text
    assert "### Experiment `mine`: Cons+None, Cons+Cons\n" in text
    walltime = section(text, "## Wall time (experiment mine)")
    assert figure_links(walltime) == ["figures/mine_walltime.png"]
    assert all(row[-5:-3] == ["–", "–"] for row in table_rows(walltime)[2:])
    assert sorted(p.name for p in (tmp_path / "mine/docs/figures").iterdir()) == [
        "exp1.png", "exp2.png", "mine.png", "mine_walltime.png",
    ]  # fmt: skip


def test_the_write_up_reads_its_named_inputs_only(tmp_path):
    """Snakemake's `input` (attributes) as well as a mapping; a figure the rule does not
    hand over is an error that names it, not a path guessed under results/."""
    config = tiny_config(0.1)
    inputs = tiny_results(tmp_path, config)
    texts = []
    for i, given in enumerate([inputs, SimpleNamespace(**inputs)]):
        out = tmp_path / f"doc{i}" / "reproduction.md"
        writeup.write_reproduction(config, given, out, out.parent / "figures")
        texts.append(out.read_text(encoding="utf-8"))
    assert texts[0] == texts[1] and "### Experiment 2 (cf. paper fig. 5)" in texts[0]
    inputs["figures"] = [f for f in inputs["figures"] if f.stem != "exp2"]
    with pytest.raises(ValueError, match=r"no figure exp2\.png among the inputs `figures`"):
        writeup.write_reproduction(config, inputs, out, out.parent / "figures")


def test_large_figure_is_saved_smaller(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (600, 1000, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 1_000_000
    writeup.copy_figure(tmp_path / "big.png", tmp_path / "small.png")
    assert (tmp_path / "small.png").stat().st_size <= writeup.MAX_PNG_BYTES
    assert Image.open(tmp_path / "small.png").width < 1000


def test_discussion_quotes_the_tables_through_placeholders(tmp_path):
    config = tiny_config(0.1)
    inputs = tiny_results(tmp_path, config) | {"discussion": tmp_path / "discussion.md"}
    (tmp_path / "discussion.md").write_text(
        "AdaMix: {{exp1:g_scale-mean:AdaMix+Power}}, at 0.1: {{ exp2:default:None+Cons:0.1 }}."
    )
    out = tmp_path / "docs" / "reproduction.md"
    writeup.write_reproduction(config, inputs, out, tmp_path / "docs/figures")
    # seeds 8.1 and 8.3 under g_scale-mean, 8.0 and 8.2 under default
    assert "AdaMix: 8.20, at 0.1: 8.10." in out.read_text()

    # a run without a cell the discussion cites (0.3 was not run) gets a pointer, never
    # the discussion's words around a dash
    (tmp_path / "discussion.md").write_text(
        "AdaMix: {{exp1:g_scale-mean:AdaMix+Power}}, at 0.3: {{exp2:default:None+Cons:0.3}},"
        " again {{exp2:default:None+Cons:0.3}}."
    )
    writeup.write_reproduction(config, inputs, out, tmp_path / "docs/figures")
    text = out.read_text()
    assert "AdaMix: 8.20" not in text and (
        "this run lacks 1 of the 2 cells it cites (for example"
        " `{{exp2:default:None+Cons:0.3}}`), so it is left out here." in text
    )

    (tmp_path / "discussion.md").write_text("{{exp2:default:AdaMix+Power}}")  # not in exp2
    with pytest.raises(ValueError, match=r"\{\{exp2:default:AdaMix\+Power\}\} names no run"):
        writeup.write_reproduction(config, inputs, out, tmp_path / "docs/figures")


def test_readme_shows_the_documents_summary_and_headline(tmp_path):
    """README.md shows the discussion's summary and the headline of the committed
    docs/reproduction.md, as copied by `python -m adamix.report.writeup --readme README.md`;
    the copy replaces stale ones and stops at the section's end."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    doc = (REPO / "docs" / "reproduction.md").read_text(encoding="utf-8")
    stale = ""
    for name in writeup.README_SECTIONS:
        start, end = writeup.readme_markers(name)
        shown = readme[readme.index(start) + len(start) : readme.index(end)].strip()
        assert shown == writeup.section_of(doc, name)
        stale += f"{start}\nSTALE COPY OF {name}\n{end}\n"
    summary = writeup.section_of(doc, "verdict")
    assert summary.startswith("- ") and "###" not in summary
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{stale}end\n")
    writeup.update_readme(readme, REPO / "docs" / "reproduction.md")
    text = readme.read_text()
    assert "STALE COPY" not in text and text.endswith("end\n")
    assert summary in text and writeup.headline_of(doc) in text
    readme.write_text(f"# x\n{writeup.README_START}\n{writeup.README_END}\n")
    with pytest.raises(ValueError, match="verdict: copied"):
        writeup.update_readme(readme, REPO / "docs" / "reproduction.md")


def test_the_discussions_account_of_adamixs_collapse_holds_in_the_reference():
    """docs/reproduction_discussion.md explains AdaMix's failure under `default` by its
    weight rates: the smallest reaches the clamp (about 1e-31: float32's tiny / eps,
    adamix.schedules.builtin) in the first epoch and the mean ends below half of eta0.
    Both hold in every seed of the published reference, which keeps these rates."""
    text = " ".join((REPO / "docs" / "reproduction_discussion.md").read_text().split())
    assert "reaches the clamp (about 1e-31) in the first epoch" in text
    assert "is below half of eta0" in text
    ref = load_reference(REPO / "docs" / "reference" / "metrics.parquet")
    run = ref[(ref["dataset"] == "mnist") & (ref["reading"] == "default") & (ref["size"] == 0.1)
              & (ref["weight_rule"] == "AdaMix") & (ref["bias_rule"] == "Power")]  # fmt: skip
    assert run["seed"].nunique() >= 3
    floor = np.finfo(np.float32).tiny / np.finfo(np.float32).eps
    first, last = run[run["epoch"] == 1], run[run["epoch"] == run["epoch"].max()]
    assert first["lr_weight_min"].to_numpy() == pytest.approx(floor, rel=1e-3)
    assert (last["lr_weight_mean"] < last["lr"] / 2).all()


def test_pretraining_ablation_names_the_setting_that_matches_the_paper():
    config = tiny_config(0.1)
    config["pretrain"]["epochs"] = 10
    config["readings"] |= {
        "pretrain_epochs-0": {"pretrain_epochs": 0},
        "pretrain_epochs-1": {"pretrain_epochs": 1},
    }
    readings = ["default", "pretrain_epochs-0", "pretrain_epochs-1"]
    exp2 = {**config["experiments"]["exp2"], "readings": readings}
    finals = {  # Cons+None, Cons+Cons, None+Cons (the paper: 9.09, 8.37, 51.40)
        "default": (8.5, 8.1, 18.0),
        "pretrain_epochs-0": (30.0, 20.0, 70.0),
        "pretrain_epochs-1": (9.0, 8.6, 50.0),
    }
    df = pd.concat(
        metrics({run: [v, v + 0.2] for run, v in zip(EXP2, values, strict=True)}, reading=r)
        for r, values in finals.items()
    )
    table = tables.experiment_table(df, "exp2", exp2, epoch=2)
    text = sections.pretraining_section(table, config)
    rows = table_rows(text)
    assert rows[0] == ["RBM epochs per layer", "Cons+Cons", "Cons+None", "None+Cons"]
    assert [r[0] for r in rows[2:]] == ["0", "1", "10", "paper"]
    assert rows[3][3].startswith("50.10 [") and rows[-1][1:] == ["8.37", "9.09", "51.40"]
    assert (
        "Pre-training of 1 RBM epochs per layer brings None+Cons within 10% of the paper's"
        " 51.40 while Cons+Cons stays within 10% of its 8.37." in text
    )
    none = {r: v if r == "default" else (v[0], v[1], 20.0) for r, v in finals.items()}
    df = pd.concat(
        metrics({run: [v, v + 0.2] for run, v in zip(EXP2, values, strict=True)}, reading=r)
        for r, values in none.items()
    )
    text = sections.pretraining_section(tables.experiment_table(df, "exp2", exp2, 2), config)
    assert "No pre-training strength tried brings None+Cons within 10%" in text
    assert sections.pretraining_section(table[table["reading"] == "default"], config) == ""


def test_setup_tells_the_pauses_and_the_resumed_jobs():
    def job(run, starts):
        """Epoch rows of one job finishing at the given times."""
        return pd.DataFrame({"dataset": "mnist", "reading": "default", "weight_rule": run,
                             "bias_rule": run, "size": 0.1, "seed": 0,
                             "epoch": range(len(starts)), "finished_at": starts})  # fmt: skip

    pretrain = pd.DataFrame({"finished_at": [0.0, 60.0]})
    straight = pd.concat([job("Cons", [100.0, 160.0, 220.0]), job("AdaMix", [130.0, 190.0])])
    assert sections.interruptions(straight, pretrain) == (
        "The run went through in one go, without pauses."
    )
    # stopped after 220 s for an hour; AdaMix had saved epoch 1 and resumed from it
    stopped = pd.concat([job("Cons", [100.0, 160.0, 220.0]), job("AdaMix", [130.0, 3820.0])])
    assert sections.interruptions(stopped, pretrain) == (
        "The run was stopped once and started again with the same command, Snakemake"
        " rerunning only what was missing (a pause of 1 h 00 min 00 s; 3 min 40 s with jobs"
        " running). One fine-tuning job stopped mid-run resumed from its last saved epoch."
    )


def headline_verdict(runs: dict, std: float = 0.1, seeds: int = 3) -> dict:
    """The headline's one verdict (sections.headline_verdicts) on exp1 cells at 1/10 under
    default: runs {run: (paper value, our mean, diverged seeds)}, each over `seeds` seeds
    with standard deviation `std`."""
    from adamix.report.sections import headline_verdicts, paper_rows

    n = len(runs)
    paper, mean, diverged = (list(column) for column in zip(*runs.values(), strict=True))
    table = pd.DataFrame(
        {"experiment": ["exp1"] * n, "reading": ["default"] * n, "run": list(runs),
         "size": [0.1] * n, "paper_rer_epoch50": paper, "rer_mean": mean,
         "rer_std": [std] * n, "n_seeds": [seeds] * n, "n_diverged": diverged}
    )  # fmt: skip
    rows, _ = paper_rows(table)
    (verdict,) = headline_verdicts(table, rows)
    return verdict


def test_within_ten_percent_is_measured_against_our_mean():
    # paper 10.0, ours 9.05: 9.5% of the paper's value but 10.5% of ours: not near
    verdict = headline_verdict({"AdaMix+Power": (10.0, 9.05, 0), "Cons+Cons": (10.0, 9.1, 0)})
    assert verdict["near"] == 1  # 9.1: |0.9| / 9.1 = 9.9% of ours; 9.05: 10.5%, not near
    assert verdict["distance"] == pytest.approx((0.95 / 9.05 + 0.9 / 9.1) / 2)


def test_a_cell_with_a_diverged_seed_is_a_miss_in_the_headline():
    # both means equal the paper's value; AdaMix+Power diverged on one of its 3 seeds (its
    # mean is over the other 2): a miss, never a match
    verdict = headline_verdict({"AdaMix+Power": (9.0, 9.0, 1), "Cons+Cons": (8.0, 8.0, 0)})
    assert (verdict["inside"], verdict["near"], verdict["lost"], verdict["ran"]) == (1, 1, 1, 2)


def test_a_single_paper_run_is_compared_with_a_prediction_interval():
    from adamix.report.stats import prediction_interval, t_quantile_975

    # 3 seeds, mean 9.0, sd 0.2: the mean's 95% CI is 9.0 +- 0.50, one run's 95%
    # prediction interval 9.0 +- 4.303 x 0.2 x sqrt(1 + 1/3) = 9.0 +- 0.99
    low, high = prediction_interval(9.0, 0.2, 3)
    half = t_quantile_975(2) * 0.2 * (4 / 3) ** 0.5
    assert (low, high) == pytest.approx((9.0 - half, 9.0 + half)) and half > 0.99
    assert all(math.isnan(x) for x in prediction_interval(9.0, math.nan, 1))
    verdict = headline_verdict({"AdaMix+Power": (9.8, 9.0, 0)}, std=0.2)
    assert verdict["inside"] == 1  # 9.8: outside the mean's CI, inside one run's interval


def test_headline_states_claims_1_and_4_rate_matched_from_the_claims_table():
    exp = {"figure": 4, "runs": EXP1, "sizes": [0.1], "readings": ["default"]}
    table = tables.experiment_table(metrics({r: [8.0, 8.2] for r in EXP1}), "exp1", exp, epoch=2)

    def row(claim, experiment, reading, verdict, numbers):
        return {"claim": claim, "statement": "s", "rule": "r", "dataset": "mnist",
                "experiment": experiment, "reading": reading, "sizes": "0.1",
                "verdict": verdict, "numbers": numbers}  # fmt: skip

    tally = "of 3 pairs AdaMix+Power − other: {} reliably lower, {} reliably higher"
    lowest = "AdaMix+Power − Cons+Cons: -1; " + tally.format(3, 0)
    adaptive = "means: AdaGrad+Cons 7.1, Cons+Cons 8; of 9 pairs adaptive − simple: 9 reliably"
    rows = [
        row("1", "exp1", "default", "holds", lowest),
        row("1", "tuning", "default", "holds", lowest),
        row("1", "tuning", "g_scale-mean", "does not hold", "x: +1; " + tally.format(0, 3)),
        row("4", "tuning", "default", "holds", adaptive + " lower, 0 reliably higher"),
        row("4", "tuning", "g_scale-mean", "not run", "missing runs: Exp+Cons"),
        row("7", "tuning", "default", "holds", "means: AdaMix+Power 7"),
    ]
    claims_csv = pd.DataFrame(rows).astype(str)
    headline = sections.headline_section(table, claims_csv)
    assert (
        "**Rate-matched** (each run at the rate its own search chose): claim 1 holds under"
        " `default` (of 3 pairs AdaMix+Power − other: 3 reliably lower, 0 reliably higher),"
        " does not hold under `g_scale-mean` (of 3 pairs AdaMix+Power − other: 0 reliably"
        " lower, 3 reliably higher); claim 4 holds under `default` (of 9 pairs adaptive −"
        " simple: 9 reliably lower, 0 reliably higher), was not run under `g_scale-mean`."
    ) in headline
    assert headline.count("Rate-matched") == 1 and "claim 7" not in headline
    plain = sections.headline_section(table)
    assert "Rate-matched" not in plain and headline.startswith(plain)
    paper_protocol = claims_csv[claims_csv["experiment"] != "tuning"]
    assert sections.headline_section(table, paper_protocol) == plain


def test_claims_section_names_each_rows_experiment_and_every_rule_once():
    def row(claim, experiment, reading, rule):
        return {"claim": claim, "statement": "s", "rule": rule, "dataset": "mnist",
                "experiment": experiment, "reading": reading, "sizes": "0.1",
                "verdict": "holds", "numbers": "n"}  # fmt: skip

    claims_csv = pd.DataFrame(
        [
            row("1", "exp1", "default", "lowest"),
            row("1", "exp1_subsets", "subset-per_seed", "lowest"),
            row("1", "tuning", "default", "lowest at tuned rates"),
            row("2", "exp1", "default", "controlled timing"),
            row("2", "exp1", "default", "job wall times"),
            row("7", "tuning", "default", "tuned modern"),
        ]
    ).astype(str)
    text = sections.claims_section(claims_csv)
    assert "| 1       | s           | exp1_subsets | subset-per_seed | 0.1     | holds" in text
    assert "- Claim 1, `exp1_subsets`, subset-per_seed, sizes 0.1: n" in text
    assert "- Claim 1 rate-matched, `tuning`, default, sizes 0.1: n" in text
    rules = text.split("How each verdict is decided:")[1]
    assert rules.count("- Claim 1: lowest") == 1 and "- Claim 7: tuned modern" in rules
    assert "- Claim 2: controlled timing" in rules and "- Claim 2: job wall times" in rules
    assert "- Claim 1 rate-matched: lowest at tuned rates" in rules


def test_an_experiment_with_another_s_runs_and_sizes_is_shown_once():
    exp = {"figure": 4, "runs": EXP1, "sizes": [0.1], "readings": ["default"]}
    readings = {"runs": EXP1, "sizes": [0.1], "readings": ["default"], "continuum": True}
    df = metrics({r: [8.0, 8.2] for r in EXP1})
    table = pd.concat(
        [tables.experiment_table(df, "exp1", exp, epoch=2),
         tables.experiment_table(df, "exp1_readings", readings, epoch=2)]
    )  # fmt: skip
    links = {"exp1": "figures/exp1.png", "exp1_readings": "figures/exp1_readings.png"}
    text = sections.experiment_sections(table, {"exp1": exp, "exp1_readings": readings}, links)
    assert "### Experiment 1 (cf. paper fig. 4)" in text and "exp1_readings" not in text
    alone = sections.experiment_sections(table, {"exp1_readings": readings}, links)
    assert "### Experiment `exp1_readings`: " in alone
