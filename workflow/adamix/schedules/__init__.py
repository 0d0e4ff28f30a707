"""Learning-rate rules and the optimizer that applies them.

- ``kinds``: the kinds of rule (ScalarRule, AdaptiveRule, TorchRule) and the readings;
- ``builtin``: the paper's seven rules and four modern ones, as values;
- ``registry``: ``RULES`` by name, ``register`` and ``load_plugin`` for a user's own rules;
- ``sgd``: ScheduledSGD and ``build_optimizer`` (torch); ``fused``: its CPU kernels (numba).

Everything but the optimizer is torch-free; ``ScheduledSGD`` and ``build_optimizer`` are
imported on first use (PEP 562), so that ``from adamix.schedules import register`` (a
plug-in) and a Snakemake start load no torch.
"""

from __future__ import annotations

from adamix.schedules.kinds import (
    ADADEC_FORMS,
    READABLE,
    T_UNITS,
    TIMINGS,
    AdaptiveRule,
    Rule,
    ScalarRule,
    TorchRule,
    schedule_time,
)
from adamix.schedules.registry import (
    BUILTIN_RULES,
    MODERN_RULES,
    PAPER_RULES,
    RULES,
    catalog,
    get_rule,
    load_plugin,
    register,
    settings_read,
)

_LAZY = {"ScheduledSGD", "build_optimizer"}  # from adamix.schedules.sgd, which imports torch

__all__ = [
    "ADADEC_FORMS",
    "BUILTIN_RULES",
    "MODERN_RULES",
    "PAPER_RULES",
    "READABLE",
    "RULES",
    "TIMINGS",
    "T_UNITS",
    "AdaptiveRule",
    "Rule",
    "ScalarRule",
    "ScheduledSGD",
    "TorchRule",
    "build_optimizer",
    "catalog",
    "get_rule",
    "load_plugin",
    "register",
    "schedule_time",
    "settings_read",
]


def __getattr__(name: str):
    if name in _LAZY:
        from adamix.schedules import sgd

        return getattr(sgd, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
