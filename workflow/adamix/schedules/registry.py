"""The registry of learning-rate rules: ``RULES``, name -> specification.

Importing this module registers the built-in rules (adamix.schedules.builtin), the paper's
seven then the four modern ones; a user's own rules follow, registered with ``register``
from a Python file that the config's ``plugins`` names (``load_plugin``). The planner gets
the registry as plain data (``catalog``). No torch is imported here: a Snakemake start
reads the registry.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

from adamix.plan.settings import SETTINGS, TRAINING
from adamix.schedules.builtin import MODERN, PAPER
from adamix.schedules.kinds import READABLE, AdaptiveRule, Rule, ScalarRule, TorchRule

RULES: dict[str, Rule] = {}  # name -> specification; the built-ins, then plug-ins
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # no "+": runs are Weight+Bias


def register(rule: Rule) -> Rule:
    """Add a rule to ``RULES`` under its name; ValueError for a taken name, a bad name, an
    unknown setting in ``reads`` or a missing part."""
    if not isinstance(rule, ScalarRule | AdaptiveRule | TorchRule):
        raise ValueError(f"{rule!r} is not a ScalarRule, an AdaptiveRule or a TorchRule")
    where = f"rule {rule.name!r}"
    if not isinstance(rule.name, str) or not NAME.match(rule.name):
        raise ValueError(f"{where}: a name is letters, digits and _, starting with a letter")
    if rule.name in RULES:
        raise ValueError(f"{where} is already registered; choose another name")
    if unknown := sorted(set(rule.reads) - set(READABLE)):
        raise ValueError(f"{where}: reads unknown settings {unknown}; known: {READABLE}")
    if missing := [part for part in rule.PARTS if not callable(getattr(rule, part))]:
        raise ValueError(f"{where}: {', '.join(missing)} must be a function")
    if isinstance(rule, AdaptiveRule) and (rule.kernel is None) != (rule.state_keys is None):
        raise ValueError(f"{where}: a fused kernel needs state_keys, and state_keys a kernel")
    RULES[rule.name] = rule
    return rule


def get_rule(name: str) -> Rule:
    try:
        return RULES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown rule {name!r}; registered: {', '.join(RULES)}") from None


_PLUGINS: dict[str, tuple[str, ...]] = {}  # plug-in -> the rules it registered


def load_plugin(entry: str) -> tuple[str, ...]:
    """Import a plug-in, a Python file (``path/to/rules.py``) or an importable module
    (``package.rules``), whose code calls ``register``; returns the names it registered.
    Loading the same plug-in again does nothing. ValueError if it registers no rule."""
    key = str(Path(entry).resolve()) if entry.endswith(".py") else entry
    if key in _PLUGINS:
        return _PLUGINS[key]
    before = set(RULES)
    try:
        if entry.endswith(".py"):
            if not Path(entry).is_file():
                raise FileNotFoundError(f"plug-in {entry!r}: no such file")
            module_name = "adamix_plugin_" + re.sub(r"\W", "_", key)
            spec = importlib.util.spec_from_file_location(module_name, entry)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        else:
            importlib.import_module(entry)
    except ValueError as error:
        raise ValueError(f"plug-in {entry!r}: {error}") from None
    names = tuple(name for name in RULES if name not in before)
    if not names:
        raise ValueError(f"plug-in {entry!r} registered no rule (call adamix.schedules.register)")
    _PLUGINS[key] = names
    return names


def settings_read(run: str) -> tuple[str, ...]:
    """The fine-tuning settings a Weight+Bias run's result depends on: those every run
    reads (adamix.plan.settings.TRAINING) and those its two rules declare in ``reads``."""
    weight, bias = run.split("+")
    read = {*TRAINING, *get_rule(weight).reads, *get_rule(bias).reads}
    return tuple(name for name in SETTINGS if name in read)


def catalog() -> dict[str, dict]:
    """Every registered rule as plain data, in registration order: {name: {"reads": the
    settings it reads, "library_lr": its library's default rate, or None}}. The planner
    (adamix.plan) takes this, never rule objects."""
    return {
        name: {"reads": tuple(rule.reads), "library_lr": getattr(rule, "library_lr", None)}
        for name, rule in RULES.items()
    }


for _rule in (*PAPER, *MODERN):
    register(_rule)
del _rule

PAPER_RULES = tuple(rule.name for rule in PAPER)  # the paper's seven, in its order
MODERN_RULES = tuple(rule.name for rule in MODERN)  # torch.optim's, per parameter group
BUILTIN_RULES = PAPER_RULES + MODERN_RULES
