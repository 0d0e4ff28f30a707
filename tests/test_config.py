"""The config is validated before any job: bad values stop the run with a message naming them."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from adamix.plan.config import DATA_OVERRIDES, RESERVED_NAMES, SUBSET_CHOICES, typed_like_schema
from adamix.plan.settings import FinetuneSettings
from conftest import REPO, copy_workflow, snakemake


def dry_run_with(tmp_path, edit) -> str:
    """Edit config.yaml itself (as a user would) in a copy of the workflow, dry-run `data`."""
    workdir = copy_workflow(tmp_path / "wf")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    edit(config)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "data", config=None, check=False)
    assert result.returncode != 0, "a bad config was accepted"
    assert not (workdir / "results").exists(), "a job ran despite the bad config"
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["experiments"]["exp1"]["runs"].append("Adamax+Cons"),
            r"exp1.runs: 'Adamax\+Cons' names no registered rule 'Adamax'",
        ),
        (
            lambda c: c["experiments"]["exp1"]["runs"].append("Cons-Cons"),
            r"'Cons-Cons' does not match",
        ),
        (lambda c: c.update(plugins=["missing.py"]), r"plug-in 'missing.py': no such file"),
        (
            lambda c: c["datasets"]["mnist"]["mirrors"].append("http://yann.lecun.com/exdb/mnist/"),
            r"'http://yann.lecun.com/exdb/mnist/' does not match '\^https://'",
        ),
        (
            lambda c: c["datasets"]["mnist"]["mirrors"].insert(0, "file:///etc/"),
            r"'file:///etc/' does not match '\^https://'",
        ),
        (
            lambda c: c["datasets"]["mnist"]["files"].update({"../../escape.gz": "0" * 64}),
            r"Additional properties are not allowed \('../../escape.gz' was unexpected\)",
        ),
        (
            lambda c: c["datasets"]["mnist"]["files"].update(
                {"t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}  # its md5
            ),
            r"'ec29112dd5afa0611ce80d1b7f02629c' does not match",
        ),
        (
            lambda c: c["experiments"]["exp2"].update(dataset="cifar"),
            r"experiments.exp2.dataset: 'cifar' is not a key of datasets \['fashion', 'mnist'\]",
        ),
        (
            lambda c: c["datasets"]["fashion"]["offline"].update(kind="rpm"),
            r"is not valid under any of the given schemas",
        ),
        (lambda c: c["data"]["sizes"].append(1.5), r"1.5 is greater than the maximum of 1"),
        (lambda c: c["data"]["sizes"].append(0), r"0 is less than or equal to the minimum of 0"),
        (
            lambda c: c["finetune"].update(lr=-0.001),
            r"-0.001 is less than the minimum of 0.*\['lr'\]",
        ),
        (lambda c: c["pretrain"].pop("weight_cost"), r"'weight_cost' is a required property"),
        (lambda c: c["finetune"].update(timing="later"), r"'later' is not one of"),
        (
            lambda c: c["experiments"]["exp5"]["sizes"].append(0.2),
            r"exp5.sizes: 0.2 is not in data.sizes",
        ),
        (
            lambda c: c["experiments"]["exp1"]["readings"].append("x"),
            r"exp1.readings: 'x' is not a key",
        ),
        (
            lambda c: c["pretrain"].update(batch_size=1000) or c["data"]["sizes"].insert(0, 0.01),
            r"data.sizes: 0.01 leaves 600 of the 60000 training images, fewer than one"
            r" minibatch \(pretrain.batch_size 1000\)",
        ),
        (
            lambda c: c["data"]["sizes"].insert(0, 0.001),
            r"data.sizes: 0.001 leaves 60 .* \(pretrain.batch_size 100\)",
        ),
        (
            lambda c: c["pretrain"].update(batch_size=1) or c["data"]["sizes"].insert(0, 5e-05),
            r"data.sizes: 5e-05 is below the smallest size, 0.0001",
        ),
        (lambda c: c.update(seeds=[0, 2**40]), r"1099511627776 is greater than the maximum"),
        (lambda c: c.update(seeds=[0, 1, 0]), r"\[0, 1, 0\] has non-unique elements"),
        (lambda c: c["tuning"].update(search_seed=2**32), r"4294967296 is greater than the max"),
        (
            lambda c: c["tuning"].update(search_seed=1),
            r"tuning.search_seed: 1 is one of the seeds \[0, 1, 2\]",
        ),
        (
            lambda c: c["tuning"].update(search_seed=7),
            r"decide.looks: seeds until decided would add seed 7, the tuning's search seed",
        ),
        (
            lambda c: c["experiments"]["exp1"]["runs"].append("Cons+Cons"),
            r"has non-unique elements",
        ),
        (lambda c: c["experiments"]["exp5"]["sizes"].append(1), r"has non-unique elements"),
        (
            lambda c: c["experiments"]["exp3"]["readings"].append("default"),
            r"has non-unique elements",
        ),
        (
            lambda c: c["readings"].update({"subset-per_run": {"subset": "per_run"}}),
            r"'per_run' is not one of \['shared', 'per_seed'\]",
        ),
        (
            lambda c: c["experiments"].update(reference=c["experiments"]["exp1"]),
            r"experiments.reference: 'reference' is reserved",
        ),
        (
            lambda c: c["experiments"].update(exp1_walltime=c["experiments"]["exp1"]),
            r"experiments.exp1_walltime: 'exp1_walltime' is reserved",
        ),
    ],
    ids=[
        "unknown-rule",
        "not-a-run",
        "missing-plugin",
        "http-mirror",
        "file-mirror",
        "file-key",
        "md5",
        "unknown-dataset",
        "offline-kind",
        "fraction>1",
        "fraction=0",
        "negative-rate",
        "missing-key",
        "enum",
        "size",
        "reading",
        "pretrain-batch>images",
        "size<batch",
        "size-label",
        "seed>=2**32",
        "seed-twice",
        "search-seed",
        "search-seed-in-seeds",
        "search-seed-added-by-decide",
        "run-twice",
        "size-twice",
        "reading-twice",
        "subset-choice",
        "reserved-name",
        "walltime-name",
    ],
)
def test_bad_config_is_refused_before_any_job(tmp_path, edit, expected):
    output = dry_run_with(tmp_path, edit)
    assert re.search(expected, output, re.S), output[-2000:]


def test_default_config_plans_the_whole_study(tmp_path):
    """Per seed on MNIST: 16 distinct combinations at 1/10 plus AdaMix+Power at 3/10, 6/10,
    1 under the default reading, and of the 14 distinct runs of experiments 1, 3 and 4,
    those that read the setting another reading changes (each distinct run once): 9 for
    g_scale (the runs with an adaptive rule), 9 for timing, 3 for adadec (AdaDec), 8 for
    t_unit (Exp, Power, AdaDec). Experiment 5's baseline Cons+Cons at 3/10, 6/10 and 1 (the
    same job under both its readings: Cons reads no g_scale) and AdaMix+Power under
    g_scale-mean there; experiment 2's 3 runs under 3 more pre-trainings; exp1_subsets' 4
    runs on the subset drawn per seed, and its 3 adaptive runs per epoch there, under their
    own pre-training on a subset per seed. On Fashion-MNIST:
    the 14 runs of experiments 1, 3 and 4 at 1/10 under default, 9 more under g_scale-mean.
    3 seeds; 4 pre-training layers per data set, pre-training, size and seed; one download
    per data set."""
    workdir = copy_workflow(tmp_path / "wf")
    result = snakemake(workdir, "-n", config=None)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    # the tuning's search, at its own seed (100, none of the experiments'): 14 runs x 9
    # rates under default, and the 6 runs that read g_scale (AdaGrad, AdaDec, AdaMix on the
    # weights) under g_scale-mean
    search = 14 * 9 + 6 * 9
    mnist = 19 + 9 + 9 + 3 + 8 + (3 + 3) + 3 * 3
    # exp1_readings: the 3 adaptive runs under its 14 readings that exp1 does not run
    readings = 3 * 14
    subsets = 4 + 3  # exp1_subsets: every run on a per-seed subset, the adaptive per epoch
    # exp1_ambiguities, the runs that read the changed setting: timing-lagged 3 (AdaGrad,
    # AdaDec, AdaMix), adadec-decaying 1 (AdaDec) and t_unit-epoch 2 (AdaDec, Power) under
    # g_scale-mean; the last two under per_epoch
    ambiguities = 3 + 1 + 2 + 1 + 2
    everything = mnist + readings + subsets + ambiguities
    # the write-up's primary analysis, look 1 of `decide` at the 3 seeds: claim 8 under
    # per_epoch, AdaMix+Power at 3/10, 6/10 and 1 (its other cells are the experiments')
    decide = 3
    everything += decide
    assert int(counts["finetune"]) == everything * 3 + (14 + 9) * 3 + search == 621
    # MNIST: 4 sizes and 4 more pre-trainings at 1/10 (3 of exp2, 1 on the per-seed
    # subsets), and the search seed's at 1/10; Fashion-MNIST: 1/10
    assert int(counts["pretrain_layer"]) == 4 * (4 + 4) * 3 + 4 + 4 * 3
    # the shared subsets (every size, and Fashion's 1/10) as before; one per seed at 1/10
    assert int(counts["make_subset"]) == 4 + 1
    assert int(counts["make_seed_subset"]) == 3
    assert int(counts["download"]) == 2


def test_seeds_from_the_command_line(tmp_path):
    """`--config 'seeds=[0]' 'decide={writeup: false}'` (docs/running.md, fewer seeds) plans
    one seed of every job; with the write-up's primary analysis, its first look still
    needs 3 seeds of the primary claims' cells."""
    workdir = copy_workflow(tmp_path / "wf")
    primary = snakemake(workdir, "-n", "--config", "seeds=[0]", config=None)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", primary.stdout, re.M))
    # claim 1 at seeds 1 and 2: exp1's 4 runs, per epoch its 3 adaptive ones; claim 8:
    # exp5's 2 runs at the 3 sizes above 1/10 under default at seeds 1, 2, per epoch
    # AdaMix+Power there at seeds 0, 1, 2; the subset's test (decide.subset auto): exp1's 7
    # jobs under the per-seed subsets at seeds 1 and 2 (seed 0's are exp1_subsets')
    assert int(counts["finetune"]) == 324 + 2 * (4 + 3) + 2 * 2 * 3 + 3 * 3 + 2 * 7
    result = snakemake(
        workdir, "-n", "--config", "seeds=[0]", "decide={writeup: false}", config=None
    )
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    # exp1 to exp5 63, exp1_readings 42, exp1_subsets 7, exp1_ambiguities 9, Fashion-MNIST
    # 23; the search at its own seed: 180 jobs, none shared with seed 0's; pre-training:
    # 8 per size-and-pre-training of seed 0, the search seed's 4 at 1/10
    assert int(counts["finetune"]) == 63 + 42 + 7 + 9 + 23 + 180
    assert int(counts["pretrain_layer"]) == 4 * 8 + 4 + 4


BAD_PLUGINS = {
    "clash": (
        "register(ScalarRule('AdaMix', lambda h, t, R: h['lr'], reads=('lr',)))",
        r"plug-in 'bad.py': rule 'AdaMix' is already registered",
    ),
    "missing-part": (
        "register(AdaptiveRule('Half', reads=(), scale=lambda h, s: 1.0, init=None,"
        " fold=None, factor=None, no_state_factor=None))",
        r"plug-in 'bad.py': rule 'Half': init, fold, factor, no_state_factor must be a function",
    ),
}


@pytest.mark.parametrize("case", BAD_PLUGINS)
def test_bad_plugin_is_refused_before_any_job(tmp_path, case):
    code, expected = BAD_PLUGINS[case]

    def edit(config):
        config["plugins"] = ["bad.py"]
        (tmp_path / "wf" / "bad.py").write_text(
            f"from adamix.schedules import AdaptiveRule, ScalarRule, register\n{code}\n"
        )

    output = dry_run_with(tmp_path, edit)
    assert re.search(expected, output), output[-2000:]


def test_schema_agrees_with_the_settings_object():
    # The finetune block of the config schema and adamix.plan.settings.FinetuneSettings list the
    # same settings, with the same defaults and choices.
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    block = schema["properties"]["finetune"]["properties"]
    fields = {f.name: f for f in dataclasses.fields(FinetuneSettings)}
    assert list(block) == list(fields)
    for name, f in fields.items():
        assert block[name]["default"] == f.default, name
        assert block[name].get("enum") == (
            list(f.metadata["choices"]) if "choices" in f.metadata else None
        )
    assert block["g_scale"]["$ref"] == "#/$defs/g_scale"  # named or a number
    # A reading overrides fine-tuning's choices, and pre-training's epochs.
    readable = dict(schema["$defs"]["ambiguities"]["properties"])
    # and the data subset (adamix.plan.config: no setting of pre-training or fine-tuning)
    assert readable.pop("subset")["enum"] == list(SUBSET_CHOICES)
    assert not {*DATA_OVERRIDES} & {*fields, *schema["properties"]["pretrain"]["properties"]}
    epochs = readable.pop("pretrain_epochs")
    assert {k: epochs[k] for k in ("type", "minimum")} == schema["properties"]["pretrain"][
        "properties"
    ]["epochs"]
    assert readable.pop("g_scale") == {"$ref": "#/$defs/g_scale"}
    for name, spec in readable.items():
        assert spec["enum"] == list(fields[name].metadata["choices"]), name


def test_nested_overrides_on_the_command_line(tmp_path):
    # Snakemake hands nested --config values over as strings; they are read as the schema
    # types them, so numbers, lists and booleans work at any depth.
    workdir = copy_workflow(tmp_path / "wf")
    overrides = [
        "finetune={epochs: 3, lr: 0.01, timing: lagged}",
        "seeds=[0, 1]",
        "experiments={exp1: {walltime: false}}",
        "data={sizes: [0.01, 0.02], timeout_s: 1.5}",
    ]
    result = snakemake(workdir, "-n", "--config", *overrides)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    # 2 seeds x (27 + 6 + 6) experiment jobs (6: exp1_readings' per-epoch readings of the
    # adaptive runs), and the tuning's 4 search jobs (2 runs x 2 rates at its own seed)
    assert int(counts["finetune"]) == 2 * (27 + 6 + 6) + 4 and "walltime" not in counts
    bad = snakemake(workdir, "-n", "--config", "finetune={epochs: three}", check=False)
    assert bad.returncode != 0
    output = bad.stdout + bad.stderr
    assert re.search(r"'three' is not of type 'integer'.*\['finetune'\]\['epochs'\]", output, re.S)


def test_typed_like_schema_reads_each_type_of_the_schema():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    given = {
        "seeds": ["0", "2"],
        "finetune": {"epochs": "3", "lr": "1e-3", "K": "1", "loss": "sse", "q": "x"},
        "experiments": {"mine": {"walltime": "true", "sizes": ["0.1"], "runs": ["Cons+Cons"]}},
        "datasets": {
            "m": {"offline": {"version": "0.1"}, "files": {"t10k-labels-idx1-ubyte.gz": "12"}}
        },
        "readings": {"r": {"timing": "lagged"}},
        "device": "cpu",
    }
    assert typed_like_schema(given, schema) == {
        "seeds": [0, 2],
        "finetune": {"epochs": 3, "lr": 0.001, "K": 1, "loss": "sse", "q": "x"},
        "experiments": {"mine": {"walltime": True, "sizes": [0.1], "runs": ["Cons+Cons"]}},
        "datasets": {
            "m": {"offline": {"version": "0.1"}, "files": {"t10k-labels-idx1-ubyte.gz": "12"}}
        },
        "readings": {"r": {"timing": "lagged"}},
        "device": "cpu",
    }


def test_reserved_names_cover_every_rule(tmp_path):
    """An experiment is a target rule of its name: no rule of the workflow may be one."""
    workdir = copy_workflow(tmp_path / "wf")
    listed = snakemake(workdir, "--list-rules", config=None).stdout.split()
    experiments = yaml.safe_load((REPO / "config.yaml").read_text())["experiments"]
    rules = {name for name in listed if re.fullmatch(r"\w+", name)} - set(experiments)
    assert rules, listed
    assert rules <= RESERVED_NAMES, sorted(rules - RESERVED_NAMES)


@pytest.mark.parametrize(
    ("value", "label", "s"),
    [
        ("sum", "sum", 1.0),
        ("mean", "mean", 1 / 100),  # 1 / batch_size
        (0.01, "0.01", 0.01),
        ("0.01", "0.01", 0.01),  # as --config gives it
        (1 / 784, "0.0012755102040816326", 1 / 784),  # the per-pixel mean
        ("1.2755e-05", "1.2755e-05", 1.2755e-05),
    ],
)
def test_g_scale_is_named_or_a_number(value, label, s):
    settings = FinetuneSettings(g_scale=value)
    assert settings.g_scale == label  # the metrics' key column spells it so
    assert settings.rule_arguments(steps_per_epoch=60)["g_scale"] == s


@pytest.mark.parametrize("value", [0, 2, -0.5, "half", True, "nan"])
def test_g_scale_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match=r"finetune.g_scale: .* 'sum', 'mean' or a number in"):
        FinetuneSettings(g_scale=value)


def test_a_reading_of_a_numeric_g_scale_plans_its_jobs(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    overlay = tmp_path / "overlay.yaml"
    exp = {"runs": ["AdaMix+Power"], "sizes": [0.01], "readings": ["g_scale-784"]}
    overlay.write_text(
        yaml.safe_dump(
            {"readings": {"g_scale-784": {"g_scale": 1 / 784}}, "experiments": {"pixel": exp}}
        )
    )
    configs = ("--configfile", "tests/config.yaml", str(overlay))
    result = snakemake(workdir, "-n", "pixel", *configs, config=None)
    assert "results/finetune/mnist/g_scale-784/0.01/AdaMix+Power/seed0/metrics.parquet" in (
        result.stdout
    )
    bad = snakemake(workdir, "-n", "data", "--config", "finetune={g_scale: 2}", check=False)
    message = "invalid finetune.g_scale: '2', expected 'sum', 'mean' or a number in (0, 1]"
    assert bad.returncode != 0 and message in bad.stdout + bad.stderr


def test_a_reading_of_per_seed_subsets_plans_a_subset_and_pretraining_per_seed(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    overlay = tmp_path / "overlay.yaml"
    exp = {"runs": ["Cons+Cons"], "sizes": [0.01], "readings": ["default", "subset-per_seed"]}
    overlay.write_text(yaml.safe_dump({"seeds": [0, 1], "experiments": {"exp1_subsets": exp}}))
    configs = ("--configfile", "tests/config.yaml", str(overlay))
    result = snakemake(workdir, "-n", "exp1_subsets", *configs, config=None)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    # per seed: the shared subset's and the per-seed subset's pre-training and job
    assert int(counts["make_subset"]) == 1 and int(counts["make_seed_subset"]) == 2
    assert int(counts["pretrain_layer"]) == 2 * 2 * 4 and int(counts["finetune"]) == 2 * 2
    for seed in (0, 1):
        for path in (
            f"results/data/mnist/seed{seed}/subset_0.01.npz",
            f"results/pretrain/mnist/subset-per_seed/0.01/seed{seed}/layer4.pt",
            f"results/finetune/mnist/subset-per_seed/0.01/Cons+Cons/seed{seed}/metrics.parquet",
        ):
            assert path in result.stdout, path
    assert "results/data/mnist/subset_0.01.npz" in result.stdout
