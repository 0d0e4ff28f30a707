"""The cells of the study: which job computes each (reading, run), and the tuning's
reading names."""

from __future__ import annotations


def tuning_reading(reading: str, rate: float) -> str:
    """The name of `reading` with the initial rate `rate`: default~lr0.003."""
    return f"{reading}~lr{rate:g}"


def oneshot_reading(reading: str) -> str:
    """The name of the one-shot cells of `reading`: each modern run at its library's
    default rate, untuned (default~library)."""
    return f"{reading}~library"
