"""The plan of the study: from the validated config and the learning-rate rules (as plain
data), every cell, job, target and rule input of the workflow.

``Plan`` is what workflow/rules/common.smk delegates to: each of its input functions is
one call into a Plan. Building one runs the config's cross-checks (adamix.plan.config).
Neither Snakemake nor torch is needed, so that the plan is unit-tested on its own
(tests/test_plan.py compares it with the golden plan of the code before the split).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence

from adamix.plan import paths
from adamix.plan.cells import Catalog, Cell, Job, Readings, Search, oneshot_reading, tuning_reading
from adamix.plan.config import (
    check_decide,
    check_demo,
    check_experiments,
    check_names,
    check_readings,
    check_scorecard,
    check_sizes,
    check_tuning,
    pretrained,
    size_label,
    walltime_experiments,
)


class Plan:
    """The study a config asks for.

    `config`: validated (the schema's defaults filled in); `catalog`: the registered
    learning-rate rules, {name: {"reads": ..., "library_lr": ...}} in registration order
    (adamix.schedules.registry.catalog); `plugins`: each plug-in of config `plugins` ->
    the names of the rules it registered. ValueError if the config names an unknown data
    set, size, reading or rule, a reserved experiment name or a size smaller than a minibatch
    (adamix.plan.config).
    """

    def __init__(
        self,
        config: Mapping,
        catalog: Catalog,
        plugins: Mapping[str, Sequence[str]] | None = None,
    ):
        check_names(config)
        check_readings(config)
        check_sizes(config)
        check_experiments(config, list(catalog))
        check_tuning(config, list(catalog))
        check_demo(config, list(catalog))
        check_scorecard(config, list(catalog))
        check_decide(config)
        self.config = config
        self.catalog = catalog
        self.plugins = dict(plugins or {})
        self.readings = Readings(config, catalog)
        self.experiments: dict = config["experiments"]
        self.tuning: dict = config["tuning"]
        self.seeds: list = config["seeds"]
        self.sizes = [size_label(s) for s in config["data"]["sizes"]]
        self.datasets = list(config["datasets"])
        self.n_layers = len(config["model"]["layers"]) - 1

    # The fine-tuning jobs and the cells they compute.

    def job(self, dataset: str, reading: str, size, run: str, seed) -> Job:
        """The job that computes `run` under `reading` (see Readings.job_reading)."""
        return Job(dataset, self.readings.job_reading(reading, run), size_label(size), run, seed)

    def experiment_cells(self, name: str) -> list[Cell]:
        """The cells of an experiment: each of its readings by each of its runs."""
        exp = self.experiments[name]
        return [
            self.readings.cell(exp["dataset"], reading, run)
            for reading in exp["readings"]
            for run in exp["runs"]
        ]

    def all_cells(self) -> list[Cell]:
        """The cells of every experiment, each (dataset, reading, run) once."""
        cells = [cell for name in self.experiments for cell in self.experiment_cells(name)]
        return list({(c.dataset, c.reading, c.run): c for c in cells}.values())

    def finetune_parquets(self, name: str) -> list[str]:
        """The fine-tuning parquets of one experiment (its readings, sizes, runs and seeds),
        each distinct run once."""
        exp = self.experiments[name]
        paths_ = [
            self.job(exp["dataset"], reading, size, run, seed).metrics
            for reading in exp["readings"]
            for size in exp["sizes"]
            for run in exp["runs"]
            for seed in self.seeds
        ]
        return list(dict.fromkeys(paths_))

    def all_finetune_parquets(self) -> list[str]:
        """The fine-tuning parquets of every experiment, sorted."""
        return sorted({path for name in self.experiments for path in self.finetune_parquets(name)})

    def finetune_inputs(self, dataset: str, reading: str, size: str, run: str, seed) -> dict:
        """The inputs of the fine-tuning job of `run` under `reading`: its subset, the
        layers of its pre-training and the plug-in files that define its rules."""
        return {
            "subset": self.readings.subset(dataset, reading, size, seed),
            "layers": self.pretrain_layers(dataset, self.readings.pretrain_of(reading), size, seed),
            "plugins": self.plugin_files(run),
        }

    def plugins_of(self, run: str) -> list[str]:
        """The plug-ins (files or modules, as config `plugins` names them) that define the
        rules of a Weight+Bias run: all that its job loads, so that adding a plug-in
        replans only the jobs of its own rules."""
        names = set(run.split("+"))
        return [entry for entry, registered in self.plugins.items() if names & set(registered)]

    def plugin_files(self, run: str) -> list[str]:
        """The plug-in files that define the rules of a Weight+Bias run (job inputs)."""
        return [entry for entry in self.plugins_of(run) if entry.endswith(".py")]

    # Pre-training.

    def pretrain_layers(self, dataset: str, reading: str, size: str, seed, upto=None) -> list:
        """The layer checkpoints of one pre-training (`reading`: as pretrain_of names it),
        layers 1 to `upto` (all of them by default)."""
        upto = self.n_layers if upto is None else upto
        return [paths.layer(dataset, reading, size, seed, k) for k in range(1, upto + 1)]

    def pretrain_errors(self) -> list[str]:
        """The per-epoch error tables of every pre-training job: the data (dataset, size)
        and pre-training of every experiment and of the tuning, every seed and layer."""
        return [
            paths.layer_errors(dataset, reading, size, seed, k)
            for dataset, reading, size in pretrained(self.config)
            for seed in self.seeds
            for k in range(1, self.n_layers + 1)
        ]

    # Claim 2's controlled timing.

    def step_timing_inputs(self, name: str) -> dict:
        """The subset and layer checkpoints the timing of experiment `name` runs on: its
        data set, first size and reading's pre-training, the first seed."""
        exp = self.experiments[name]
        dataset, size = exp["dataset"], size_label(exp["sizes"][0])
        reading, seed = self.readings.pretrain_of(exp["readings"][0]), self.seeds[0]
        return {
            "subset": self.readings.subset(dataset, reading, size, seed),
            "layers": self.pretrain_layers(dataset, reading, size, seed),
        }

    def step_timings(self) -> list[str]:
        """The timing tables of the experiments that ask for wall times (claims' input)."""
        return [paths.step_timing(name) for name in walltime_experiments(self.experiments)]

    # The tuning.

    def tuning_search(self) -> list[Search]:
        """Every job of the search (each distinct job once on disk): every reading, run and
        rate of the grid, at the search seed."""
        t = self.tuning
        return [
            Search(
                self.job(
                    t["dataset"], tuning_reading(reading, rate), t["size"], run, t["search_seed"]
                ).metrics,
                reading,
                run,
                rate,
            )
            for reading in t["readings"]
            for run in t["runs"]
            for rate in t["rates"]
        ]

    def tuned_cells(self, selected: str) -> list[Cell]:
        """The cells of the tuned runs: each run at the rate that the checkpoint chose
        (`selected`: its selected.csv), then the one-shot cells, each modern run at its
        library rate (named by oneshot_reading: default~library)."""
        dataset, cells = self.tuning["dataset"], []
        for (reading, run), rate in self.selected_rates(selected).items():
            cells.append(self.readings.cell(dataset, tuning_reading(reading, rate), run))
        for reading, run, rate in self.readings.oneshot:
            name = tuning_reading(reading, rate)
            cells.append(self.readings.cell(dataset, oneshot_reading(reading), run, name))
        return cells

    def tuned_parquets(self, cells: Sequence[Cell]) -> list[str]:
        """The parquets of the tuned cells' jobs, every seed of the study."""
        t = self.tuning
        paths_ = [
            self.job(t["dataset"], c.job_reading, t["size"], c.run, seed).metrics
            for c in cells
            for seed in self.seeds
        ]
        return list(dict.fromkeys(paths_))

    def demo_parquets(self) -> list[str]:
        """The fine-tuning parquets of `snakemake demo` (config `demo`): its runs on its
        data set and size, under its reading, with its one seed."""
        demo = self.config["demo"]
        return [
            self.job(demo["dataset"], demo["reading"], demo["size"], run, demo["seed"]).metrics
            for run in demo["runs"]
        ]

    # The scorecard (config `scorecard`, adamix.report.scorecard): candidates paired with
    # the published reference on the tuning's data set and size, every seed of the study.

    def scorecard_protocol(self) -> dict:
        """What the scorecard runs and pairs with (adamix.report.scorecard)."""
        card, t = self.config["scorecard"], self.tuning
        return {
            "dataset": t["dataset"], "size": float(t["size"]), "seeds": list(self.seeds),
            "epochs": self.config["finetune"]["epochs"], "lr": self.config["finetune"]["lr"],
            "readings": list(card["readings"]), "baselines": list(card["baselines"]),
            "tuned_baselines": list(card.get("tuned_baselines", t["runs"])) if card["tune"] else [],
            "candidates": list(card["runs"]),
        }  # fmt: skip

    def _scorecard_job(self, reading: str, run: str, seed) -> Job:
        t = self.tuning
        return self.job(t["dataset"], reading, t["size"], run, seed)

    def scorecard_calibration(self) -> str:
        """The parquet of the calibration job: Cons+Cons under the scorecard's first
        reading at the first seed."""
        reading = self.config["scorecard"]["readings"][0]
        return self._scorecard_job(reading, "Cons+Cons", self.seeds[0]).metrics

    def scorecard_runs(self, runs: Sequence[str], protocol: str, rates=None) -> list[list]:
        """[protocol, reading, run, rate, seed, metrics] of `runs` under each scorecard
        reading and every seed: at the paper's rate, or at `rates`[(reading, run)] (the
        tuned rate; a run without one is left out)."""
        entries = []
        for reading in self.config["scorecard"]["readings"]:
            for run in runs:
                rate = self.config["finetune"]["lr"] if rates is None else rates.get((reading, run))
                if rate is None:
                    continue
                name = reading if rates is None else tuning_reading(reading, rate)
                entries += [
                    [
                        protocol,
                        reading,
                        run,
                        rate,
                        seed,
                        self._scorecard_job(name, run, seed).metrics,
                    ]
                    for seed in self.seeds
                ]
        return entries

    def scorecard_search(self) -> list[Search]:
        """The search of each candidate's rate (empty unless scorecard.tune): the tuning's
        grid at its search seed, under each scorecard reading."""
        card, t = self.config["scorecard"], self.tuning
        if not card["tune"]:
            return []
        return [
            Search(self._scorecard_job(tuning_reading(reading, rate), run, t["search_seed"])
                   .metrics, reading, run, rate)
            for reading in card["readings"] for run in card["runs"] for rate in t["rates"]
        ]  # fmt: skip

    @staticmethod
    def selected_rates(selected: str) -> dict[tuple[str, str], float]:
        """{(reading, run): rate} of a selection CSV (adamix.report.tuning.write_selection);
        a run that diverged at every rate has none."""
        with open(selected) as f:
            rows = list(csv.DictReader(f))
        return {
            (r["reading"], r["run"]): float(r["rate"]) for r in rows if r["rate"] not in ("", "nan")
        }

    def scorecard_timing_cells(self) -> list[list]:
        """[reading, run, job's reading, settings] of Cons+Cons and each candidate under the
        first scorecard reading: the step timing's cells (adamix.train.step_timing)."""
        card = self.config["scorecard"]
        runs = dict.fromkeys(["Cons+Cons", *card["runs"]])
        return [
            self.readings.cell(self.tuning["dataset"], card["readings"][0], run).as_list()[1:]
            for run in runs
        ]

    def scorecard_timing_inputs(self) -> dict:
        """The subset and layers the scorecard's step timing runs on (first seed)."""
        t = self.tuning
        reading = self.readings.pretrain_of(self.config["scorecard"]["readings"][0])
        size = size_label(t["size"])
        return {
            "subset": self.readings.subset(t["dataset"], reading, size, self.seeds[0]),
            "layers": self.pretrain_layers(t["dataset"], reading, size, self.seeds[0]),
        }

    # What the report makes.

    def experiment_outputs(self, name: str) -> list[str]:
        """What `snakemake <experiment>` builds: its figure and table, and its wall times if
        the config asks for them (`walltime: true`)."""
        outputs = [
            paths.figure(name, "png"),
            paths.figure(name, "pdf"),
            paths.table(name, "csv"),
            paths.table(name, "md"),
        ]
        if self.experiments[name].get("walltime", False):
            outputs += [
                paths.figure(f"{name}_walltime", "png"),
                paths.table(f"{name}_walltime", "csv"),
                paths.table(f"{name}_walltime", "md"),
            ]
        if self.experiments[name].get("continuum", False):
            outputs += [
                paths.figure(f"{name}_continuum", "png"),
                paths.table(f"{name}_continuum", "csv"),
                paths.table(f"{name}_continuum", "md"),
            ]
        return outputs

    def figures(self) -> list[str]:
        """The PNG figures the write-up shows, in its order: every experiment's, then the
        tuning's."""
        figures = [
            path
            for name in self.experiments
            for path in self.experiment_outputs(name)
            if path.startswith(f"{paths.FIGURES}/") and path.endswith(".png")
        ]
        return figures + [paths.figure(name) for name in paths.TUNING_FIGURES]

    def doc_figures(self, folder: str = paths.WRITEUP) -> list[str]:
        """The copies of the write-up's figures in {folder}/figures/."""
        prefix = f"{paths.FIGURES}/"
        return [
            paths.doc_figure(path.removeprefix(prefix).removesuffix(".png"), folder)
            for path in self.figures()
        ]

    def writeup_inputs(self) -> dict[str, list[str] | str]:
        """The named inputs of the write-up (rule reproduction_doc): the experiments' and
        wall-time tables, the figures it shows, the rest of the experiments' outputs, the
        pre-training errors, the gathered metrics, claims and tuning tables, and the
        hand-written discussion."""
        outputs = [path for name in self.experiments for path in self.experiment_outputs(name)]
        walltime = walltime_experiments(self.experiments)
        experiment_tables = [paths.table(name) for name in self.experiments]
        walltime_tables = [paths.table(f"{name}_walltime") for name in walltime]
        figures = self.figures()
        shown = {*experiment_tables, *walltime_tables, *figures}
        return {
            "experiment_tables": experiment_tables,
            "walltime_tables": walltime_tables,
            "figures": figures,
            "others": [path for path in outputs if path not in shown],
            "pretrain": self.pretrain_errors(),
            "metrics": paths.METRICS,
            "claims": paths.table("claims"),
            "tuning": paths.table("tuning"),
            "discussion": paths.DISCUSSION,
            # the primary analysis: the last look of `snakemake decide`
            **({"decide": paths.table("decide")} if self.config["decide"]["writeup"] else {}),
        }

    def writeup_files(self, folder: str = paths.WRITEUP) -> list[str]:
        """The write-up and its figures in `folder` (what `publish` copies)."""
        return [f"{folder}/reproduction.md", *self.doc_figures(folder)]

    def all_targets(self) -> list[str]:
        """What `snakemake` builds by default: every experiment's outputs, the tuning's
        table and figures, the gathered metrics, the claims and the write-up."""
        outputs = [path for name in self.experiments for path in self.experiment_outputs(name)]
        return outputs + [
            paths.table("tuning"),
            *(paths.figure(name) for name in paths.TUNING_FIGURES),
            paths.METRICS,
            paths.table("claims", "csv"),
            paths.table("claims", "md"),
            paths.WRITEUP_MD,
        ]
