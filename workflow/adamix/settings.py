"""The settings of one fine-tuning job: its hyperparameters and its readings of the paper's
ambiguities, listed once.

``FinetuneSettings`` is what config.yaml's ``finetune`` block (merged with a reading's
overrides) becomes. The same object gives the optimizer's arguments (``rule_arguments``),
the key columns of the metrics parquet (adamix.metrics) and the identity of a resume
state (adamix.train); the config schema's ``finetune`` block must agree with its fields
(tests/test_config.py checks names, defaults and choices). No torch here.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml


def _choice(default: str, choices: tuple[str, ...], doc: str):
    return field(default=default, metadata={"choices": choices, "doc": doc})


def _number(default, doc: str):
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class FinetuneSettings:
    """Hyperparameters of fine-tuning (paper section 3 and H&S's code) and the readings of
    the paper's ambiguities (docs/paper.md, numbered as there)."""

    epochs: int = _number(50, "fine-tuning epochs; the paper reports RER at 5, 10, ..., 50")
    batch_size: int = _number(100, "minibatch size (H&S)")
    lr: float = _number(0.001, "initial rate eta0 of every rule, weights and biases alike")
    K: float = _number(1.0, "K of eq. 12-16")
    q: float = _number(0.75, "q of eq. 15, 17, 18")
    xi: float = _number(0.999, "xi of eq. 14")
    loss: str = _choice("sse", ("sse", "cross_entropy"), "loss summed over pixels and images")
    timing: str = _choice("current", ("current", "lagged"), "ambiguity 1")
    adadec: str = _choice("paper", ("paper", "decaying"), "ambiguity 2")
    t_unit: str = _choice("step", ("step", "epoch"), "ambiguity 3")
    g_scale: str = _choice("sum", ("sum", "mean"), "ambiguity 5")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            choices = f.metadata.get("choices")
            if choices is not None:
                ok, expected = value in choices, f"one of {choices}"
            elif f.type == "int":
                ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
                ok, expected = ok and value >= 1, "an integer >= 1"
            else:
                ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
                ok, expected = ok and value >= 0, "a number >= 0"
            if not ok:
                raise ValueError(f"invalid finetune.{f.name}: {value!r}, expected {expected}")

    @classmethod
    def from_mapping(cls, values: Mapping) -> FinetuneSettings:
        """From a config block (and a reading's overrides); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(values) - names):
            raise ValueError(f"unknown finetune settings {unknown}; known: {sorted(names)}")
        return cls(**values)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def rule_arguments(self, steps_per_epoch: int) -> dict:
        """The learning-rate rules' hyperparameters (adamix.schedules.ScheduledSGD)."""
        return {
            "lr": self.lr,
            "total_steps": self.epochs * steps_per_epoch,
            "K": self.K,
            "q": self.q,
            "xi": self.xi,
            "timing": self.timing,
            "adadec": self.adadec,
            "g_scale": 1.0 if self.g_scale == "sum" else 1.0 / self.batch_size,  # ambiguity 5
            "t_unit": self.t_unit,
            "steps_per_epoch": steps_per_epoch,
        }


SETTINGS = tuple(f.name for f in dataclasses.fields(FinetuneSettings))
# What every run reads, whatever its rules: the training loop's own settings. The rest are
# the rules' (adamix.schedules.READABLE), read by those rules that declare them.
TRAINING = ("epochs", "batch_size", "loss")


def typed_like_schema(value, schema: dict, root: dict | None = None):
    """`value` with every string that the JSON schema types as a number, an integer or a
    boolean read as YAML. Snakemake reads nested values given on the command line
    (`--config 'finetune={epochs: 3}'`) as strings; this makes them what a config file
    gives. Strings the schema allows as strings, and strings YAML does not read as the
    schema's type, are left for the schema's validation to judge."""
    root = schema if root is None else root
    while "$ref" in schema:  # local references only: "#/$defs/name"
        node = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
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


NON_STRING = {"integer", "number", "boolean"}
