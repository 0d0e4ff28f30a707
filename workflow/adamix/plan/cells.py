"""The cells of the study and the jobs that compute them: the records (Cell, Job, Search),
the readings (config's own, then the tuning's), and job_reading, the rule by which each
distinct run is computed once.

A cell is what a table or figure shows: a Weight+Bias run under a reading on a data set.
Two readings that agree on every setting a run reads (its rules declare them in the
registry, adamix.schedules.registry.catalog) and on the pre-training it starts from give the
same result, so the cell of the later reading reuses the job of the earlier one.

The learning-rate rules arrive as plain data, a catalog {rule name: {"reads": the settings
it reads, "library_lr": its library's default rate or None}}; nothing here imports the
registry or torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adamix.plan import paths
from adamix.plan.config import (
    DATA_OVERRIDES,
    PRETRAIN_OVERRIDES,
    pretrain_reading,
    pretrain_settings,
    subset_choice,
)
from adamix.plan.settings import SETTINGS, TRAINING, g_scale_label

# {rule name: {"reads": tuple of settings, "library_lr": float | None}}, registration order
Catalog = Mapping[str, Mapping]


def tuning_reading(reading: str, rate: float) -> str:
    """The name of `reading` with the initial rate `rate`: default~lr0.003."""
    return f"{reading}~lr{rate:g}"


def oneshot_reading(reading: str) -> str:
    """The name of the one-shot cells of `reading`: each modern run at its library's
    default rate, untuned (default~library)."""
    return f"{reading}~library"


@dataclass(frozen=True)
class Cell:
    """One cell of the study: `run` (Weight+Bias) under `reading` on `dataset`, computed by
    the job of `job_reading` (see Readings.job_reading) and fine-tuned with `settings`
    (the reading's fine-tuning settings)."""

    dataset: str
    reading: str
    run: str
    job_reading: str
    settings: dict = field(hash=False)

    def as_list(self) -> list:
        """[dataset, reading, run, job's reading, settings]: the form the report rules take
        (adamix.report.tables.gather_metrics) and their recorded params have."""
        return [self.dataset, self.reading, self.run, self.job_reading, dict(self.settings)]


@dataclass(frozen=True)
class Job:
    """One fine-tuning job, by its wildcards: `run` under the job's reading (job_reading) at
    a size label ("0.1") and seed."""

    dataset: str
    reading: str
    size: str
    run: str
    seed: int

    @property
    def metrics(self) -> str:
        """The job's metrics parquet."""
        return paths.finetune_metrics(self.dataset, self.reading, self.size, self.run, self.seed)


@dataclass(frozen=True)
class Search:
    """One job of the tuning's search: `run` under `reading` at the initial rate `rate` (at
    the search seed); `metrics`: the parquet of the job that computes it."""

    metrics: str
    reading: str
    run: str
    rate: float

    def as_list(self) -> list:
        """[metrics, reading, run, rate]."""
        return [self.metrics, self.reading, self.run, self.rate]


def settings_read(run: str, catalog: Catalog) -> tuple[str, ...]:
    """The fine-tuning settings a Weight+Bias run's result depends on, in SETTINGS order:
    those every run reads (TRAINING) and those its two rules declare."""
    weight, bias = run.split("+")
    read = {*TRAINING, *catalog[weight]["reads"], *catalog[bias]["reads"]}
    return tuple(name for name in SETTINGS if name in read)


def library_rate(run: str, catalog: Catalog) -> float | None:
    """The default rate of a run's rules in their library (Adam+Adam: torch.optim.Adam's
    0.001), if both have the same one; else None (the paper's rules have none)."""
    rates = {catalog[name]["library_lr"] for name in run.split("+")}
    return rates.pop() if len(rates) == 1 and None not in rates else None


class Readings:
    """The study's readings, name -> overrides: config's own, then the tuning's (config
    `tuning`): each of its readings at each rate of its grid and at each library rate of
    its runs (the one-shot comparison), named by tuning_reading (default~lr0.003)."""

    def __init__(self, config: Mapping, catalog: Catalog):
        self._config = config
        self._catalog = catalog
        tuning = config["tuning"]
        # (reading, run, library rate) of each modern run of the tuning: its one-shot cells
        self.oneshot: list[tuple[str, str, float]] = [
            (reading, run, library_rate(run, catalog))
            for reading in tuning["readings"]
            for run in tuning["runs"]
            if library_rate(run, catalog) is not None
        ]
        rates = [*tuning["rates"], *(rate for _, _, rate in self.oneshot)]
        self.tuning: dict[str, dict] = {
            tuning_reading(reading, rate): {**config["readings"][reading], "lr": rate}
            for reading in tuning["readings"]
            for rate in rates
        }
        self.overrides: dict[str, dict] = {**config["readings"], **self.tuning}
        self._job_readings: dict[tuple[str, str], str] = {}

    def __iter__(self):
        return iter(self.overrides)

    def __contains__(self, reading) -> bool:
        return reading in self.overrides

    def settings(self, reading: str) -> dict:
        """The fine-tuning settings of one reading: config's finetune block plus its
        overrides (those of pre-training and of the data, `subset`, left out). A new dict
        on each call."""
        left_out = {*PRETRAIN_OVERRIDES, *DATA_OVERRIDES}
        overrides = {k: v for k, v in self.overrides[reading].items() if k not in left_out}
        merged = {**self._config["finetune"], **overrides}
        if "g_scale" in merged:  # a number as the metrics spell it
            merged["g_scale"] = g_scale_label(merged["g_scale"])
        return merged

    def subset(self, dataset: str, reading: str, size: str, seed) -> str:
        """The subset file that `reading`'s jobs (pre-training and fine-tuning) at `seed`
        train on: the shared one, or, for `subset: per_seed`, the one drawn for `seed`."""
        if subset_choice(self.overrides[reading]) == "per_seed":
            return paths.seed_subset(dataset, size, seed)
        return paths.subset(dataset, size)

    def pretrain_of(self, reading: str) -> str:
        """The reading whose pre-trained layers `reading`'s runs start from (`default`
        unless it overrides `pretrain_epochs` or `subset`)."""
        return pretrain_reading(self._config, self.overrides[reading])

    def pretrain_settings(self, reading: str) -> dict:
        """The pre-training settings of one reading: config's pretrain block and its
        `pretrain_epochs`."""
        return pretrain_settings(self._config, self.overrides[reading])

    def job_reading(self, reading: str, run: str) -> str:
        """The reading whose job computes `run` under `reading`: the first reading, in the
        config's order (then the tuning's), that agrees with `reading` on every setting the
        run reads (declared by its rules) and on the pre-training it starts from. Each
        distinct run is computed once, under that name."""
        key = (reading, run)
        if key not in self._job_readings:
            read = settings_read(run, self._catalog)

            def identity(r):
                settings = self.settings(r)
                return [settings[k] for k in read], self.pretrain_of(r)

            mine = identity(reading)
            self._job_readings[key] = next(r for r in self.overrides if identity(r) == mine)
        return self._job_readings[key]

    def cell(self, dataset: str, reading: str, run: str, settings_of: str | None = None) -> Cell:
        """The cell of `run` under `reading`; `settings_of`: the reading whose job and
        settings it has, where its name is not one (the one-shot cells)."""
        of = reading if settings_of is None else settings_of
        return Cell(dataset, reading, run, self.job_reading(of, run), self.settings(of))
