"""The numbers He & Li 2016 print (adamix/paper_results.yaml), looked up in one place for
the tables, the figures and the write-up. An experiment or run the paper does not report
has no value: NaN, or an empty dict."""

from __future__ import annotations

import copy
import functools
import math
from importlib import resources

import yaml

from adamix.plan.config import dataset_of


@functools.cache
def _load() -> dict:
    text = (
        resources.files("adamix")
        .joinpath("report", "paper_results.yaml")
        .read_text(encoding="utf-8")
    )
    return yaml.safe_load(text)


def paper_results() -> dict:
    """The whole file (a copy): citation, and per experiment `rer_epoch50` {run: {size:
    RER}} and, where the paper reports them, `wall_seconds_50_epochs` {run: s}."""
    return copy.deepcopy(_load())


def applies(experiment: dict) -> bool:
    """Whether the paper's numbers apply to an experiment (its config entry): the paper ran
    on MNIST only, so an experiment on another `dataset` shows our numbers alone."""
    return dataset_of(experiment) == "mnist"


def paper_rer(experiment: str, run: str, size: float) -> float:
    """The paper's test RER at epoch 50 of one run at one data size; NaN if it has none."""
    values = _load()["experiments"].get(experiment, {}).get("rer_epoch50", {})
    return float(values.get(run, {}).get(float(size), math.nan))


def paper_seconds(experiment: str) -> dict[str, float]:
    """The paper's wall time of 50 fine-tuning epochs per run, {run: seconds}; empty if it
    reports none for `experiment`."""
    return dict(_load()["experiments"].get(experiment, {}).get("wall_seconds_50_epochs", {}))
