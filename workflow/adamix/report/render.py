"""How the write-up prints numbers and tables, and its Jinja2 templates
(adamix/report/templates/): the prose lives there, the numbers come from
adamix.report.writeup. Every filter a template uses is one of the functions below.
"""

from __future__ import annotations

import functools
import re

import jinja2
import pandas as pd

DASH = "–"  # a missing number
NAN = re.compile(r"\bnan\b")  # as Python prints a missing number in claims.csv's text


# ------------------------------------------------------------------ numbers


def number(x: float, digits: int = 2) -> str:
    """`x` with `digits` decimals (the paper prints RER with 2); NaN as a dash."""
    return DASH if x is None or pd.isna(x) else f"{x:.{digits}f}"


def signed(x: float) -> str:
    return DASH if pd.isna(x) else f"{x:+.2f}"


def interval(low: float, high: float) -> str:
    """A 95% CI as "[low, high]"; a dash when there is none (fewer than two seeds)."""
    return DASH if pd.isna(low) or pd.isna(high) else f"[{low:.2f}, {high:.2f}]"


def seeds(row: pd.Series) -> str:
    """Number of seeds, with the diverged ones if any."""
    text = str(int(row["n_seeds"]))
    return text + (f" ({int(row['n_diverged'])} diverged)" if row["n_diverged"] > 0 else "")


def ours(row: pd.Series) -> str:
    """Our mean RER and its 95% CI in one cell: "8.30 [8.10, 8.50]"."""
    text = number(row["rer_mean"])
    if not pd.isna(row["rer_ci95_low"]):
        text += " " + interval(row["rer_ci95_low"], row["rer_ci95_high"])
    if row["n_diverged"] > 0:
        text += f" ({int(row['n_diverged'])} of {int(row['n_seeds'])} diverged)"
    return text


def duration(seconds: float) -> str:
    """Seconds as "1 h 02 min 03 s" (under a minute: "12.3 s")."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def count(n: int, noun: str) -> str:
    """`n` and `noun`, plural unless `n` is 1: "1 seed", "2 seeds"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def plural(noun: str, n: int) -> str:
    """`noun`, plural unless `n` is 1 (a template's "Devices:", "reading")."""
    return noun + ("" if n == 1 else "s")


def general(x: float) -> str:
    """A data size or rate as Python's "g" format prints it: 0.1, 1, 0.001, 1e-05."""
    return f"{x:g}"


def percent(x: float) -> str:
    """A fraction as a whole percentage: 0.104 -> "10%"."""
    return f"{x:.0%}"


def code(name: str) -> str:
    """A name as Markdown code: `default`."""
    return f"`{name}`"


def no_nan(text: str) -> str:
    """claims.csv's text with each "nan" (a missing number) as a dash."""
    return NAN.sub(DASH, text)


# ------------------------------------------------------------------ tables


def markdown(df: pd.DataFrame) -> str:
    """A table of already formatted cells as GitHub Markdown."""
    cells = df.astype(str).map(lambda s: s.replace("|", "\\|"))
    return cells.to_markdown(index=False, disable_numparse=True)


# ------------------------------------------------------------------ templates

FILTERS = {
    "number": number, "signed": signed, "interval": interval, "duration": duration,
    "general": general, "percent": percent, "code": code, "no_nan": no_nan,
    "plural": plural,
}  # fmt: skip


@functools.cache
def environment() -> jinja2.Environment:
    """The templates' environment: Markdown, not HTML (no escaping); a block tag on a line
    of its own leaves no line behind; an undefined name is an error, never blank text."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("adamix.report", "templates"),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    env.globals["dash"] = DASH
    return env


def render(template: str, **context) -> str:
    """The template (a name under templates/) filled with `context`, without the final
    newline of its file: a section, joined to the others by the document template."""
    return environment().get_template(template).render(**context).removesuffix("\n")
