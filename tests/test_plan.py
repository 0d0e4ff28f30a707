"""The plan (adamix.plan) on its own, without Snakemake or torch (tests/test_imports.py
checks that neither loads): the golden plan of the code before the split (tests/golden/,
dumped by the old common.smk's functions) for config.yaml and tests/config.yaml, and the
rules of the plan one by one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from adamix.plan import paths
from adamix.plan.cells import (
    Cell,
    Job,
    Readings,
    library_rate,
    oneshot_reading,
    settings_read,
    tuning_reading,
)
from adamix.plan.config import dereferenced, subset_seed_of, typed_like_schema
from adamix.plan.study import Plan
from adamix.schedules.registry import catalog
from conftest import REPO

GOLDEN = Path(__file__).parent / "golden"
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
# The test config's plug-in (tests/plugins/user_rules.py) as the registry would list it:
# loading the file itself imports torch.
USER_RULES = {
    "Halving": {"reads": ("lr", "t_unit"), "library_lr": None},
    "RMS": {"reads": ("lr", "K", "xi", "timing", "g_scale"), "library_lr": None},
}
PLUGINS = {"tests/plugins/user_rules.py": ("Halving", "RMS")}


def merged(config: dict, override: dict) -> dict:
    """`override` merged into `config` as Snakemake merges a --configfile (nested dicts
    key by key, anything else replaced)."""
    for key, value in override.items():
        mine = config.get(key)
        if isinstance(value, dict):
            config[key] = merged(mine if isinstance(mine, dict) else {}, value)
        else:
            config[key] = value
    return config


def with_defaults(value, schema: dict, root: dict | None = None):
    """`value` with the schema's defaults filled in, as Snakemake's validate fills them in
    (each object's missing properties that have a default, at any depth)."""
    root = schema if root is None else root
    schema = dereferenced(schema, root)
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, sub in properties.items():
            if "default" in sub:
                value.setdefault(key, copy.deepcopy(sub["default"]))
        for key, item in value.items():
            sub = properties.get(key, extra)
            if isinstance(sub, dict):
                with_defaults(item, sub, root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            with_defaults(item, schema["items"], root)
    return value


def load_config(*files: str) -> dict:
    """The validated config of the Snakefile's config.yaml and these --configfiles."""
    config = {}
    for name in ("config.yaml", *files):
        merged(config, yaml.safe_load((REPO / name).read_text()))
    return with_defaults(typed_like_schema(config, SCHEMA), SCHEMA)


CONFIGS = {
    "config": ((), {}),
    "tests_config": (("tests/config.yaml",), PLUGINS),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def planned(request):
    files, plugins = CONFIGS[request.param]
    plan = Plan(load_config(*files), {**catalog(), **USER_RULES}, plugins)
    golden = json.loads((GOLDEN / f"plan_{request.param}.json").read_text())
    return plan, golden


def view(plan: Plan) -> dict:
    """The plan in the golden file's keys (what each old function of common.smk gave)."""
    exps, readings = list(plan.experiments), plan.readings
    runs = sorted({run for e in plan.experiments.values() for run in e["runs"]})
    runs = sorted({*runs, *plan.tuning["runs"]})
    return {
        "experiment_cells": {n: [c.as_list() for c in plan.experiment_cells(n)] for n in exps},
        "experiment_metrics": {n: plan.finetune_parquets(n) for n in exps},
        "experiment_outputs": {n: plan.experiment_outputs(n) for n in exps},
        "timing_data": {n: list(plan.step_timing_inputs(n).values()) for n in exps},
        "all_metrics": plan.all_finetune_parquets(),
        "all_cells": [c.as_list() for c in plan.all_cells()],
        "all_targets": plan.all_targets(),
        "pretrain_errors": plan.pretrain_errors(),
        "tuning_search": [s.as_list() for s in plan.tuning_search()],
        "oneshot": readings.oneshot,
        "readings": readings.overrides,
        "reading_settings": {r: readings.settings(r) for r in readings},
        "pretrain_of": {r: readings.pretrain_of(r) for r in readings},
        "pretrain_settings": {r: readings.pretrain_settings(r) for r in readings},
        "job_reading": {r: {run: readings.job_reading(r, run) for run in runs} for r in readings},
        "doc_figures": plan.doc_figures(),
        "plugin_files": {run: plan.plugin_files(run) for run in runs},
        "sizes": plan.sizes,
    }


def test_the_plan_equals_the_golden_plan(planned):
    plan, golden = planned
    ours = json.loads(json.dumps(view(plan)))
    assert sorted(ours) == sorted(golden)
    for key in golden:
        assert ours[key] == golden[key], key


def test_the_tuned_cells_are_those_the_old_run_recorded():
    # Snakemake's record of rule tuning_metrics in the old code's run of tests/config.yaml:
    # its params (repr, as Snakemake compares them) and inputs, from that run's selection.
    plan = Plan(load_config("tests/config.yaml"), {**catalog(), **USER_RULES}, PLUGINS)
    recorded = json.loads((GOLDEN / "tuned_tests_config.json").read_text())
    cells = plan.tuned_cells(str(GOLDEN / "selected_tests_config.csv"))
    assert repr([cell.as_list() for cell in cells]) == recorded["cells_repr"]
    assert sorted(plan.tuned_parquets(cells)) == recorded["input"]


def test_the_writeup_inputs_are_the_old_input_set(planned):
    plan, golden = planned
    named = plan.writeup_inputs()
    files = [f for v in named.values() for f in ([v] if isinstance(v, str) else v)]
    old = [
        *(path for outputs in golden["experiment_outputs"].values() for path in outputs),
        *golden["pretrain_errors"],
        paths.METRICS,
        "results/tables/claims.csv",
        "results/tables/tuning.csv",
        "results/figures/tuning_sensitivity.png",
        "results/figures/tuning_curves.png",
        paths.DISCUSSION,
        # added since: the primary analysis (config decide.writeup)
        *(["results/tables/decide.csv"] if plan.config["decide"]["writeup"] else []),
    ]
    assert sorted(files) == sorted(old) and len(files) == len(set(files))
    assert all(p.endswith(".png") for p in named["figures"])
    assert named["experiment_tables"] == [f"results/tables/{n}.csv" for n in plan.experiments]


CATALOG = {
    "Cons": {"reads": ("lr",), "library_lr": None},
    "AdaGrad": {"reads": ("lr", "K", "timing", "g_scale"), "library_lr": None},
    "Adam": {"reads": ("lr",), "library_lr": 0.001},
    "RMSprop": {"reads": ("lr",), "library_lr": 0.01},
}


def tiny_config(**readings) -> dict:
    return {
        "seeds": [0],
        "data": {"sizes": [0.1]},
        "datasets": {"mnist": {}},
        "model": {"layers": [784, 30]},
        "pretrain": {"epochs": 2, "batch_size": 100},
        "finetune": {
            "epochs": 2,
            "batch_size": 100,
            "loss": "sse",
            "lr": 0.001,
            "K": 1.0,
            "timing": "current",
            "g_scale": "sum",
        },
        "readings": {"default": {}, **readings},
        "experiments": {
            "e": {
                "dataset": "mnist",
                "runs": ["Cons+Cons", "AdaGrad+Cons"],
                "sizes": [0.1],
                "readings": list({"default": {}, **readings}),
            }
        },
        "tuning": {
            "dataset": "mnist",
            "size": 0.1,
            "search_seed": 0,
            "readings": ["default"],
            "rates": [0.01],
            "runs": ["Cons+Cons", "Adam+Adam", "Adam+RMSprop"],
        },
    }


def test_a_run_is_computed_once_under_the_first_reading_that_agrees_on_what_it_reads():
    readings = Readings(tiny_config(**{"g_scale-mean": {"g_scale": "mean"}}), CATALOG)
    # Cons reads no g_scale: its job under g_scale-mean is default's
    assert readings.job_reading("g_scale-mean", "Cons+Cons") == "default"
    assert readings.job_reading("g_scale-mean", "AdaGrad+Cons") == "g_scale-mean"
    # the tuning's reading at finetune.lr is default's job; at another rate its own
    assert readings.job_reading("default~lr0.001", "Cons+Cons") == "default"
    assert readings.job_reading("default~lr0.01", "Cons+Cons") == "default~lr0.01"


def test_a_pretraining_reading_is_its_own_job():
    readings = Readings(tiny_config(**{"pretrain_epochs-0": {"pretrain_epochs": 0}}), CATALOG)
    assert readings.pretrain_of("pretrain_epochs-0") == "pretrain_epochs-0"
    assert readings.job_reading("pretrain_epochs-0", "Cons+Cons") == "pretrain_epochs-0"
    assert "pretrain_epochs" not in readings.settings("pretrain_epochs-0")
    assert readings.pretrain_settings("pretrain_epochs-0") == {"epochs": 0, "batch_size": 100}


def test_a_per_seed_subset_reading_has_its_own_subset_pretraining_and_jobs():
    per_seed = {"subset": "per_seed"}
    mean = {**per_seed, "g_scale": "mean"}
    readings = Readings(
        tiny_config(**{"subset-per_seed": per_seed, "mean-per_seed": mean}), CATALOG
    )
    # not a fine-tuning setting (FinetuneSettings has none): default's settings
    assert readings.settings("subset-per_seed") == readings.settings("default")
    assert readings.pretrain_settings("subset-per_seed") == readings.pretrain_settings("default")
    # its own pre-training (it reads the subset), shared by the per-seed readings
    assert readings.pretrain_of("subset-per_seed") == "subset-per_seed"
    assert readings.pretrain_of("mean-per_seed") == "subset-per_seed"
    assert readings.job_reading("subset-per_seed", "Cons+Cons") == "subset-per_seed"
    # Cons reads no g_scale: the per-seed reading's job, not default's nor g_scale-mean's
    assert readings.job_reading("mean-per_seed", "Cons+Cons") == "subset-per_seed"
    assert readings.job_reading("mean-per_seed", "AdaGrad+Cons") == "mean-per_seed"
    assert readings.subset("mnist", "mean-per_seed", "0.1", 2) == paths.seed_subset(
        "mnist", "0.1", 2
    )


def test_the_plan_gives_per_seed_subsets_to_the_per_seed_readings_only():
    plan = Plan(load_config(), catalog())  # config.yaml: exp1_subsets
    assert plan.seeds == [0, 1, 2]
    for reading in ("subset-per_seed", "per_epoch_subset-per_seed"):
        for run in plan.experiments["exp1_subsets"]["runs"]:
            inputs = [plan.finetune_inputs("mnist", reading, "0.1", run, s) for s in plan.seeds]
            assert [i["subset"] for i in inputs] == [
                f"results/data/mnist/seed{seed}/subset_0.1.npz" for seed in plan.seeds
            ]
            assert [i["layers"][0] for i in inputs] == [
                f"results/pretrain/mnist/subset-per_seed/0.1/seed{seed}/layer1.pt"
                for seed in plan.seeds
            ]
    # every other reading: the shared subset (its path as before), whatever the seed
    for reading in plan.readings:
        if "subset" not in plan.readings.overrides[reading]:
            for seed in plan.seeds:
                subset = plan.finetune_inputs("mnist", reading, "0.1", "Cons+Cons", seed)["subset"]
                assert subset == "results/data/mnist/subset_0.1.npz" == paths.subset("mnist", "0.1")
    assert plan.step_timing_inputs("exp1")["subset"] == "results/data/mnist/subset_0.1.npz"
    assert plan.step_timing_inputs("exp1_subsets")["subset"] == (
        "results/data/mnist/seed0/subset_0.1.npz"
    )
    errors = plan.pretrain_errors()
    assert "results/pretrain/mnist/subset-per_seed/0.1/seed2/layer4.parquet" in errors
    assert not any("per_epoch_subset-per_seed" in path for path in errors)


def test_the_per_seed_subset_seed_is_derived_from_the_training_seed():
    assert [subset_seed_of(0, seed) for seed in (0, 1, 2)] == [1000, 1001, 1002]
    assert subset_seed_of(3, 5) == 4005
    for subset_seed in (0, 1, 7, 999, 1000, 12345):
        derived = [subset_seed_of(subset_seed, seed) for seed in range(50)]
        assert subset_seed not in derived and len(set(derived)) == 50


def test_the_tuning_readings_and_one_shot_cells():
    readings = Readings(tiny_config(), CATALOG)
    # Adam+RMSprop's rules disagree on their library rate: no one-shot cell
    assert readings.oneshot == [("default", "Adam+Adam", 0.001)]
    assert list(readings.tuning) == ["default~lr0.01", "default~lr0.001"]
    assert list(readings) == ["default", "default~lr0.01", "default~lr0.001"]
    assert library_rate("Adam+RMSprop", CATALOG) is None
    assert library_rate("Cons+Cons", CATALOG) is None
    assert tuning_reading("default", 0.003) == "default~lr0.003"
    assert oneshot_reading("default") == "default~library"


def test_settings_read_are_the_training_loops_and_the_rules():
    assert settings_read("Cons+Cons", CATALOG) == ("epochs", "batch_size", "lr", "loss")
    adagrad = ("epochs", "batch_size", "lr", "K", "loss", "timing", "g_scale")
    assert settings_read("AdaGrad+Cons", CATALOG) == adagrad


def test_records_and_paths():
    cell = Cell("mnist", "g_scale-mean", "Cons+Cons", "default", {"lr": 0.1})
    assert cell.as_list() == ["mnist", "g_scale-mean", "Cons+Cons", "default", {"lr": 0.1}]
    assert hash(cell) == hash(Cell("mnist", "g_scale-mean", "Cons+Cons", "default", {}))
    job = Job("mnist", "default", "0.1", "AdaMix+Power", 2)
    assert job.metrics == "results/finetune/mnist/default/0.1/AdaMix+Power/seed2/metrics.parquet"
    assert paths.layer("mnist", "default", "1.0", 0, 4) == (
        "results/pretrain/mnist/default/1.0/seed0/layer4.pt"
    )
    assert paths.doc_figure("exp1", "docs") == "docs/figures/exp1.png"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["experiments"]["e"].update(dataset="cifar"), r"e.dataset: 'cifar' is not"),
        (lambda c: c["experiments"]["e"]["sizes"].append(0.2), r"e.sizes: 0.2 is not in"),
        (lambda c: c["experiments"]["e"]["readings"].append("x"), r"e.readings: 'x' is not"),
        (
            lambda c: c["experiments"]["e"]["runs"].append("Adamax+Cons"),
            r"'Adamax\+Cons' names no registered rule 'Adamax'; rules: Cons, AdaGrad, Adam",
        ),
        (lambda c: c["tuning"].update(size=0.5), r"config tuning.size: 0.5 is not in data.sizes"),
        (lambda c: c["tuning"]["runs"].append("X+Cons"), r"tuning.runs: 'X\+Cons' names no"),
        (
            lambda c: c["readings"].update(x={"subset": "per_run"}),
            r"config readings.x.subset: 'per_run' is not one of shared, per_seed",
        ),
    ],
)
def test_the_plan_refuses_what_the_config_does_not_have(edit, message):
    config = tiny_config()
    edit(config)
    with pytest.raises(ValueError, match=message):
        Plan(config, CATALOG)
