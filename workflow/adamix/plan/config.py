"""The workflow's config as Snakemake hands it over: command-line values typed as the
schema types them, the cross-checks the schema cannot express (check_experiments,
check_tuning), and the check that a run is the full default study (`publish`).
Light on purpose (yaml only): the Snakefile imports it on every start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import yaml

# What `snakemake publish` demands of a run: config.yaml's values of these, and at least
# its seeds (more are welcome).
PUBLISHED_KEYS = (
    "data",
    "datasets",
    "model",
    "pretrain",
    "finetune",
    "readings",
    "experiments",
    "tuning",
    "timing",
    "plugins",
)
NON_STRING = {"integer", "number", "boolean"}

# Names an experiment cannot take: each experiment is a target rule of its name, and its
# table, figure and metrics share folders with these rules' (tests/test_config.py checks
# the list against `snakemake --list-rules`). Nor can a name end in "_walltime" or
# "_continuum" (SUFFIXES).
SUFFIXES = ("_walltime", "_continuum")  # of an experiment's extra table and figure
RESERVED_NAMES = frozenset(
    {
        *("all", "data", "download", "make_subset", "pretrain_layer", "finetune"),
        *("step_timing", "gather_metrics", "experiment_metrics", "experiment_table"),
        *("experiment_figure", "walltime", "claims", "reproduction_doc", "writeup"),
        *("publish", "compare_reference", "compare", "reference", "metrics"),
        *("tuning", "tuning_select", "tuning_metrics", "tuning_table", "tuning_figure"),
        *("tuning_curves", "tuning_sensitivity", "demo", "demo_report", "continuum"),
        *("scorecard", "scorecard_calibration", "scorecard_select", "scorecard_timing"),
        *("scorecard_report", "decide", "decide_look", "make_seed_subset"),
    }
)
# The training images of the IDX data sets this workflow knows (MNIST, Fashion-MNIST):
# a data size of f has round(f * 60000) of them (adamix.data.subsets.make_subset).
TRAIN_IMAGES = 60000


def dereferenced(schema: dict, root: dict) -> dict:
    """The schema node that `schema` refers to (local references only: "#/$defs/name")."""
    while "$ref" in schema:
        node = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def typed_like_schema(value, schema: dict, root: dict | None = None):
    """`value` with every string that the JSON schema types as a number, an integer or a
    boolean read as YAML. Snakemake reads nested values given on the command line
    (`--config 'finetune={epochs: 3}'`) as strings; this makes them what a config file
    gives. Strings the schema allows as strings, and strings YAML does not read as the
    schema's type, are left for the schema's validation to judge."""
    root = schema if root is None else root
    schema = dereferenced(schema, root)
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return {k: typed_like_schema(v, properties.get(k, extra), root) for k, v in value.items()}
    if isinstance(value, list):
        return [typed_like_schema(v, schema.get("items", {}), root) for v in value]
    types = schema.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    if not isinstance(value, str) or "string" in types or not types & NON_STRING:
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, bool):
        return parsed if "boolean" in types else value
    if isinstance(parsed, int) and types & {"integer", "number"}:
        return parsed
    if "number" in types:
        try:
            return float(value)  # also 1e-3, which YAML 1.1 reads as a string
        except ValueError:
            pass
    return value


def check_publishable(config: dict, default: dict) -> None:
    """ValueError unless `config` runs the full default study of `default` (config.yaml):
    every seed, and the same data, model, settings, readings, experiments and plug-ins.
    Only that run's write-up goes to docs/."""
    problems = []
    if missing := sorted(set(default["seeds"]) - set(config["seeds"])):
        problems.append(f"seeds {missing} of config.yaml are not run")
    for key in PUBLISHED_KEYS:
        ours, theirs = config.get(key), default.get(key, [] if key == "plugins" else None)
        if isinstance(theirs, dict) and isinstance(ours, dict):
            differ = sorted(k for k in {*ours, *theirs} if ours.get(k) != theirs.get(k))
            if differ:
                problems.append(f"{key}: {', '.join(map(str, differ))} differ from config.yaml")
        elif ours != theirs:
            problems.append(f"{key} differs from config.yaml")
    if problems:
        raise ValueError(
            "publish copies only the write-up of the full default study (config.yaml, every"
            " seed, size, experiment and reading) to docs/; this run differs: "
            + "; ".join(problems)
            + ". Its own write-up is results/reproduction/reproduction.md."
        )


# What a size label looks like in a path (also the workflow's wildcard constraint).
SIZE_LABEL = r"[01]\.[0-9]+"


def size_label(fraction) -> str:
    """The path component of a data size: 0.1 -> "0.1", 1 -> "1.0"."""
    return str(float(fraction))


def dataset_of(experiment: dict) -> str:
    """The data set of an experiment's config entry (the schema's default: mnist)."""
    return experiment.get("dataset", "mnist")


def walltime_experiments(experiments: dict) -> list[str]:
    """The experiments whose wall times are shown and timed (config: `walltime: true`)."""
    return [name for name, exp in experiments.items() if exp.get("walltime", False)]


# The settings a reading may override that belong to pre-training, not fine-tuning.
PRETRAIN_OVERRIDES = {"pretrain_epochs": "epochs"}


def pretrain_settings(config: dict, overrides: dict) -> dict:
    """config's `pretrain` block with a reading's pre-training overrides (`pretrain_epochs`)."""
    mine = {key: overrides[name] for name, key in PRETRAIN_OVERRIDES.items() if name in overrides}
    return {**config["pretrain"], **mine}


# The data a reading's jobs train on (`subset`): the subset of config `data.subset_seed`
# that every seed shares (paths.SUBSET), or one drawn per training seed with the seed
# subset_seed_of gives (paths.SEED_SUBSET). Neither pre-training nor fine-tuning settings.
SUBSET_CHOICES = ("shared", "per_seed")
DATA_OVERRIDES = {"subset": SUBSET_CHOICES[0]}  # name -> its value where a reading has none


def subset_choice(overrides: Mapping) -> str:
    """How a reading (given by its `overrides`) draws its data subset: shared or per_seed."""
    return overrides.get("subset", DATA_OVERRIDES["subset"])


def per_seed_reading(config: Mapping, reading: str) -> str:
    """The reading of config `readings` that is `reading` with the subset drawn per seed
    (its overrides plus ``subset: per_seed``)."""
    readings = config["readings"]
    want = {**readings[reading], "subset": "per_seed"}
    found = [name for name, overrides in readings.items() if dict(overrides) == want]
    if not found:
        raise ValueError(
            f"config decide.subset: no reading is {reading!r} with its subset drawn per seed; add"
            f" one to config readings: {want}"
        )
    return found[0]


def subset_seed_of(subset_seed: int, seed) -> int:
    """The seed of the per-seed subset of training seed `seed` (a reading's `subset:
    per_seed`): 1000 * (1 + subset_seed) + seed. At least 1000 * (1 + subset_seed), so
    never the shared subset's seed (subset_seed), and another for each training seed."""
    return 1000 * (1 + int(subset_seed)) + int(seed)


def pretrain_reading(config: dict, overrides: dict) -> str:
    """The reading whose pre-trained layers a reading (given by its `overrides`) starts from:
    the first of config's readings with the same pre-training settings and data subset.
    `default` for every reading that overrides fine-tuning settings only; each pre-training
    is computed once."""

    def identity(o: Mapping) -> tuple:
        return pretrain_settings(config, o), subset_choice(o)

    mine = identity(overrides)
    return next(r for r, o in config["readings"].items() if identity(o) == mine)


def pretrained(config: dict) -> list[tuple[str, str, str]]:
    """(dataset, pre-training reading, size label) of every experiment's and the tuning's
    data, in config order, each once: what is pre-trained (per seed)."""
    readings = config["readings"]
    triples = [
        (dataset_of(exp), pretrain_reading(config, readings[reading]), size_label(size))
        for exp in config["experiments"].values()
        for reading in exp["readings"]
        for size in exp["sizes"]
    ]
    if tuning := config.get("tuning"):
        triples += [
            (tuning["dataset"], pretrain_reading(config, readings[r]), size_label(tuning["size"]))
            for r in tuning["readings"]
        ]
    return list(dict.fromkeys(triples))


def check_readings(config: Mapping) -> None:
    """ValueError for a reading whose `subset` is neither shared nor per_seed."""
    for name, overrides in config["readings"].items():
        if subset_choice(overrides) not in SUBSET_CHOICES:
            raise ValueError(
                f"config readings.{name}.subset: '{overrides['subset']}' is not one of"
                f" {', '.join(SUBSET_CHOICES)}"
            )


def check_names(config: Mapping) -> None:
    """ValueError if an experiment takes the name of a rule or of another table or figure."""
    for name in config["experiments"]:
        if name in RESERVED_NAMES or name.endswith(SUFFIXES):
            raise ValueError(
                f"config experiments.{name}: '{name}' is reserved (a rule or another output"
                " of the workflow has that name; names ending in _walltime or _continuum are"
                " too): rename it"
            )


def check_sizes(config: Mapping, sizes=None, where: str = "config data.sizes") -> None:
    """ValueError for a data size (of `sizes`, data.sizes by default) whose subset holds
    fewer training images than a pre-training or fine-tuning minibatch (no step would be
    taken), or that has no short path label ("5e-05")."""
    batches = {
        "pretrain.batch_size": config["pretrain"]["batch_size"],
        "finetune.batch_size": config["finetune"].get("batch_size", 100),
    }
    for size in config["data"]["sizes"] if sizes is None else sizes:
        if not re.fullmatch(SIZE_LABEL, size_label(size)):
            raise ValueError(f"{where}: {size} is below the smallest size, 0.0001")
        n = round(size * TRAIN_IMAGES)
        for key, batch in batches.items():
            if n < batch:
                raise ValueError(
                    f"{where}: {size} leaves {n} of the {TRAIN_IMAGES} training"
                    f" images, fewer than one minibatch ({key} {batch}): training would"
                    " take no step"
                )


def check_experiments(config: Mapping, rules: Sequence[str]) -> None:
    """ValueError unless every experiment's data set, sizes and readings are in the config
    and its runs name registered learning-rate rules (`rules`, in registration order)."""
    sizes = {size_label(s) for s in config["data"]["sizes"]}
    for name, exp in config["experiments"].items():
        if exp["dataset"] not in config["datasets"]:
            raise ValueError(
                f"config experiments.{name}.dataset: '{exp['dataset']}' is not a key of"
                f" datasets {sorted(config['datasets'])}"
            )
        for size in exp["sizes"]:
            if size_label(size) not in sizes:
                raise ValueError(
                    f"config experiments.{name}.sizes: {size} is not in data.sizes {sorted(sizes)}"
                )
        for reading in exp["readings"]:
            if reading not in config["readings"]:
                raise ValueError(
                    f"config experiments.{name}.readings: '{reading}' is not a key of readings"
                )
        check_runs(f"config experiments.{name}", exp["runs"], rules)


def check_runs(where: str, runs: Sequence[str], rules: Sequence[str], key: str = "runs") -> None:
    """ValueError unless each Weight+Bias run (`where`.`key`) names registered rules."""
    for run in runs:
        for rule_name in run.split("+"):
            if rule_name not in rules:
                raise ValueError(
                    f"{where}.{key}: '{run}' names no registered rule '{rule_name}'; rules:"
                    f" {', '.join(rules)} (add your own: `plugins`)"
                )


def check_tuning(config: Mapping, rules: Sequence[str]) -> None:
    """ValueError unless the tuning's data set, size and readings are in the config and its
    runs name registered learning-rate rules (config `tuning`)."""
    tuning, where = config["tuning"], "config tuning"
    if tuning["dataset"] not in config["datasets"]:
        raise ValueError(f"{where}.dataset: '{tuning['dataset']}' is not a key of datasets")
    if size_label(tuning["size"]) not in {size_label(s) for s in config["data"]["sizes"]}:
        raise ValueError(f"{where}.size: {tuning['size']} is not in data.sizes")
    for reading in tuning["readings"]:
        if reading not in config["readings"]:
            raise ValueError(f"{where}.readings: '{reading}' is not a key of readings")
    check_runs(where, tuning["runs"], rules)
    if tuning["search_seed"] in config["seeds"]:
        raise ValueError(
            f"{where}.search_seed: {tuning['search_seed']} is one of the seeds"
            f" {list(config['seeds'])}; the tuned runs are judged on seeds that the search"
            " did not see: pick a search seed outside them"
        )


def check_demo(config: Mapping, rules: Sequence[str]) -> None:
    """ValueError unless the demo's data set and reading are in the config, its size holds
    a minibatch and its runs name registered rules (config `demo`)."""
    demo, where = config["demo"], "config demo"
    if demo["dataset"] not in config["datasets"]:
        raise ValueError(f"{where}.dataset: '{demo['dataset']}' is not a key of datasets")
    if demo["reading"] not in config["readings"]:
        raise ValueError(f"{where}.reading: '{demo['reading']}' is not a key of readings")
    check_sizes(config, [demo["size"]], f"{where}.size")
    check_runs(where, demo["runs"], rules)


def check_scorecard(config: Mapping, rules: Sequence[str]) -> None:
    """ValueError unless the scorecard's runs and baselines name registered rules and its
    readings are the config's (and the tuning's, where it tunes) (config `scorecard`)."""
    card, where = config["scorecard"], "config scorecard"
    tuning_runs = config["tuning"]["runs"]
    check_runs(where, card["runs"], rules)
    check_runs(where, card["baselines"], rules, key="baselines")
    tuned = card.get("tuned_baselines", tuning_runs)
    if card["tune"] and (untuned := [r for r in tuned if r not in tuning_runs]):
        raise ValueError(
            f"{where}.tuned_baselines: {untuned} are not among tuning.runs, so the study has"
            " no tuned rate for them"
        )
    tuned = config["tuning"]["readings"] if card["tune"] else config["readings"]
    for reading in card["readings"]:
        if reading not in tuned:
            raise ValueError(
                f"{where}.readings: '{reading}' is not among "
                + (
                    "tuning.readings, which the tuned protocol runs under (or set"
                    " scorecard.tune: false)"
                    if card["tune"]
                    else "the keys of readings"
                )
            )


def check_decide(config: Mapping) -> None:
    """ValueError unless the primary readings are the config's, each with a per-seed subset
    counterpart unless decide.subset is `shared`, and the looks increase (config `decide`)."""
    decide, where = config["decide"], "config decide"
    for reading in decide["readings"]:
        if reading not in config["readings"]:
            raise ValueError(f"{where}.readings: '{reading}' is not a key of readings")
    if list(decide["looks"]) != sorted(decide["looks"]):
        raise ValueError(f"{where}.looks: {decide['looks']} must increase")
    if decide["subset"] != "shared":  # the added seeds may train on per-seed subsets
        for reading in decide["readings"]:
            per_seed_reading(config, reading)
    # the seeds a look adds: the next integers above the config's (adamix.plan.decide)
    seeds = list(config["seeds"])
    added = range(max(seeds) + 1, max(seeds) + 1 + max(decide["looks"]) - len(seeds))
    if config["tuning"]["search_seed"] in added:
        raise ValueError(
            f"{where}.looks: seeds until decided would add seed"
            f" {config['tuning']['search_seed']}, the tuning's search seed; pick a search"
            f" seed above {max(seeds) + max(decide['looks'])}"
        )
