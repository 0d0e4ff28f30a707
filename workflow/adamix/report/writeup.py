"""The reproduction written up for a reader of the paper, rendered from the pipeline's own
tables (results/tables), metrics and pre-training errors: results/reproduction/ for any
run, and docs/reproduction.md for the full default study (`snakemake publish`).

Every number comes from the files rule reproduction_doc names as its inputs; the prose is
in the templates of adamix/report/templates/ (one per section, document.md.j2 for the
whole), and the only hand-written part is the discussion (docs/reproduction_discussion.md),
included as it is.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
from PIL import Image

from adamix.plan.config import dataset_of, walltime_experiments
from adamix.report.beyond import dataset_section, tuning_section
from adamix.report.continuum import continuum_section
from adamix.report.convergence import convergence_section
from adamix.report.decide import decide_headline, decide_section
from adamix.report.render import DASH, number, render
from adamix.report.sections import (
    HEADLINE_READINGS,
    ablation_section,
    claims_section,
    experiment_sections,
    headline_section,
    introduction,
    pretraining_section,
    setup_section,
)
from adamix.report.subsets import subsets_section
from adamix.report.walltime import walltime_section

PAPER_DATASET = "mnist"  # the paper's data set, first in the write-up
TUNING_FIGURES = ["tuning_sensitivity", "tuning_curves"]  # the tuned comparison's figures
MAX_PNG_BYTES = 250_000  # figures above this are re-saved smaller for docs/

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ inputs


def named(inputs, name: str):
    """One named input of rule reproduction_doc: Snakemake's `input` (attribute) or a
    mapping (key), as tests and scripts hand it over."""
    return inputs[name] if isinstance(inputs, Mapping) else getattr(inputs, name)


def paths(value) -> list[Path]:
    """A named input as a list of paths: one file, or a list of them."""
    if isinstance(value, str | os.PathLike):
        return [Path(value)]
    return [Path(v) for v in value]


# ------------------------------------------------------------------ discussion

# In the discussion, {{experiment:reading:run}} or {{experiment:reading:run:size}} stands for
# that row's mean RER, so that the hand-written text quotes the tables instead of typing them.
PLACEHOLDER = re.compile(r"\{\{\s*([\w-]+):([\w-]+):([\w+]+)(?::([\d.]+))?\s*\}\}")


def fill_numbers(
    text: str, table: pd.DataFrame, config: dict, missing: list[str] | None = None
) -> str:
    """Replace each PLACEHOLDER by the mean RER of its row of the experiment tables; a dash
    when that row was not run (another data size or reading than this config runs), its
    placeholder appended to `missing` if given. An experiment, or a run of it, that the
    config does not know is an error that names it."""

    def mean(match: re.Match) -> str:
        name, reading, run, size = match.groups()
        exp = config["experiments"].get(name)
        if exp is None or run not in exp["runs"]:
            raise ValueError(f"discussion: {match.group(0)} names no run of the config")
        rows = table[(table["experiment"] == name) & (table["reading"] == reading)]
        rows = rows[rows["run"] == run]
        if size is not None:
            rows = rows[rows["size"] == float(size)]
        if len(rows) == 1:
            return number(rows["rer_mean"].iloc[0])
        if missing is not None:
            missing.append(match.group(0))
        return DASH

    return PLACEHOLDER.sub(mean, text)


def discussion_section(path: Path, table: pd.DataFrame, config: dict) -> str:
    """The hand-written discussion with its placeholders filled ("Not written yet." when
    the file is missing). It was written for the published run: a run that lacks a cell it
    cites gets a pointer to it instead, never its words around dashes."""
    if not path.exists():
        return render("discussion.md.j2", path=path.as_posix(), text=None)
    raw, missing = path.read_text(encoding="utf-8").strip(), []
    text = fill_numbers(raw, table, config, missing)
    return render(
        "discussion.md.j2", path=path.as_posix(), text=text,
        missing=list(dict.fromkeys(missing)), cited=len(set(PLACEHOLDER.findall(raw))),
    )  # fmt: skip


# ------------------------------------------------------------------ figures


def copy_figure(src: Path, dest: Path, max_bytes: int = MAX_PNG_BYTES) -> None:
    """Copy a PNG; one above max_bytes is re-saved with 256 colours and, while still too
    large, scaled down by steps of 0.8."""
    shutil.copyfile(src, dest)
    image = Image.open(src).convert("RGB")
    while dest.stat().st_size > max_bytes and image.width > 300:
        image.quantize(256).save(dest, optimize=True)
        if dest.stat().st_size > max_bytes:
            image = image.resize((round(image.width * 0.8), round(image.height * 0.8)))


def copy_figures(sources: Iterable[Path], figures: Path, out: Path) -> dict[str, str]:
    """Copy each figure into `figures`; {figure name: its link from the document `out`}."""
    links = {}
    for src in sources:
        copy_figure(src, figures / src.name)
        links[src.stem] = Path(os.path.relpath(figures / src.name, out.parent)).as_posix()
    return links


class Links(dict):
    """Figure links by name; a figure the rule did not hand over is an error naming it."""

    def __missing__(self, name: str) -> str:
        raise ValueError(f"write-up: no figure {name}.png among the inputs `figures`")


# ------------------------------------------------------------------ document


def write_reproduction(
    config: dict,
    inputs,
    out: str | Path = "results/reproduction/reproduction.md",
    figures: str | Path = "results/reproduction/figures",
) -> None:
    """Write `out` and copies of the figures into `figures`, from the named inputs of rule
    reproduction_doc (`inputs`: Snakemake's input, or a mapping with the same names):
    experiment_tables (results/tables/{experiment}.csv, config order), walltime_tables (one
    per experiment with `walltime: true`, in that order), figures (the PNGs shown), pretrain
    (the pre-training errors), metrics, claims, tuning (the tables of those names) and
    discussion. `config`: the workflow's config (experiments, readings, seeds, sizes)."""
    out, figures = Path(out), Path(figures)
    experiments = config["experiments"]
    experiment_tables = paths(named(inputs, "experiment_tables"))
    table = pd.concat([pd.read_csv(p) for p in experiment_tables], ignore_index=True)
    claims = pd.read_csv(named(inputs, "claims"), dtype=str, keep_default_na=False)
    metrics = pd.read_parquet(named(inputs, "metrics"))
    pretrain = pd.concat(pd.read_parquet(p) for p in paths(named(inputs, "pretrain")))
    walltimes = dict(
        zip(walltime_experiments(experiments), paths(named(inputs, "walltime_tables")),
            strict=True)
    )  # fmt: skip

    out.parent.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    links = Links(copy_figures(paths(named(inputs, "figures")), figures, out))

    # The paper's data set first, as the paper has it; every other data set in a section of
    # its own, with our numbers only.
    paper = {n: e for n, e in experiments.items() if dataset_of(e) == PAPER_DATASET}
    mnist = table["dataset"] == PAPER_DATASET
    paper_claims = claims[claims["dataset"].isin([PAPER_DATASET, ""])]  # "": not run at all
    sections = [
        introduction(),
        setup_section(metrics, pretrain, config),
        headline_section(table[mnist], paper_claims, primary_headline(inputs, config)),
        *primary_sections(inputs, config),
        experiment_sections(table[mnist], paper, links),
        claims_section(paper_claims),
        ablation_section(table[mnist], paper_claims, {**config, "experiments": paper}),
        *reading_sections(inputs, metrics, config, paper, links),
        pretraining_section(table[mnist], config),
        convergence_section(metrics, paper, HEADLINE_READINGS, config["finetune"]["epochs"]),
    ]
    for name, path in walltimes.items():
        epochs = config["finetune"]["epochs"]
        walltime = pd.read_csv(path)
        sections.append(walltime_section(walltime, name, epochs, links[f"{name}_walltime"]))
    if "tuning" in config:  # the tuned comparison ran (rule tuning_table)
        tuned = pd.read_csv(named(inputs, "tuning"))
        sections.append(tuning_section(tuned, config["tuning"], [links[f] for f in TUNING_FIGURES]))
    for dataset in dict.fromkeys(dataset_of(e) for e in experiments.values()):
        if dataset != PAPER_DATASET:
            mine = {n: e for n, e in experiments.items() if dataset_of(e) == dataset}
            rows = table[table["dataset"] == dataset]
            sections.append(
                dataset_section(dataset, rows, claims[claims["dataset"] == dataset], mine, links)
            )
    sections.append(discussion_section(Path(named(inputs, "discussion")), table, config))
    out.write_text(render("document.md.j2", sections=sections) + "\n", encoding="utf-8")
    log.info("%s and %d figures", out, len(links))


def decide_of(inputs) -> pd.DataFrame | None:
    """The table of `snakemake decide` where the rule hands it over (input `decide`, config
    decide.writeup), cells as strings; else None."""
    has = "decide" in inputs if isinstance(inputs, Mapping) else hasattr(inputs, "decide")
    return pd.read_csv(named(inputs, "decide"), dtype=str, keep_default_na=False) if has else None


def primary_sections(inputs, config: Mapping) -> list[str]:
    """The pre-registered analysis's section, where the write-up has the decide table."""
    decide = decide_of(inputs)
    return [] if decide is None else [decide_section(decide, config["decide"])]


def primary_headline(inputs, config: Mapping) -> str:
    """The primary analysis's paragraph of the headline ("" without the decide table)."""
    decide = decide_of(inputs)
    return "" if decide is None else decide_headline(decide, config["decide"])


def reading_sections(inputs, metrics: pd.DataFrame, config: Mapping, paper: dict, links) -> list:
    """The sections on the readings of the paper's data set: claim 1 along the continuum
    (experiments with `continuum: true`, their table among the inputs `others`) and the
    data subset's share of the variance (experiments with a reading `subset: per_seed`)."""
    others = {path.name: path for path in paths(named(inputs, "others"))}
    out = []
    for name, exp in paper.items():
        if exp.get("continuum", False):
            table = pd.read_csv(others[f"{name}_continuum.csv"])
            out.append(continuum_section(table, name, links[f"{name}_continuum"]))
    for name, exp in paper.items():
        readings = config["readings"]
        if any(readings[r].get("subset") == "per_seed" for r in exp["readings"]):
            out.append(subsets_section(metrics, name, exp))
    return out


# ------------------------------------------------------------------ README

# The sections of the published write-up that README.md shows, each between its own two
# markers: the discussion's summary and the headline (tables and verdicts).
README_SECTIONS = {"verdict": "### In short", "headline": "## Headline[^\n]*"}


def readme_markers(name: str) -> tuple[str, str]:
    """The README's start and end markers around the copy of section `name`."""
    command = "`python -m adamix.report.writeup --readme README.md`"
    return f"<!-- {name}: copied from docs/reproduction.md by {command} -->", f"<!-- {name} end -->"


README_START, README_END = readme_markers("headline")


def section_of(doc: str, name: str) -> str:
    """The body of the document's section `name` (a key of README_SECTIONS): up to the
    next heading of its level or above."""
    heading = README_SECTIONS[name]
    level = len(heading.split()[0])
    match = re.search(rf"^{heading}\n(.*?)(?=^#{{1,{level}}} |\Z)", doc, re.S | re.M)
    if match is None:
        raise ValueError(f"no '{heading}' section in the document")
    return match.group(1).strip()


def headline_of(doc: str) -> str:
    """The body of the document's headline section (its table and notes)."""
    return section_of(doc, "headline")


def update_readme(readme: str | Path, doc: str | Path) -> None:
    """Copy each of README_SECTIONS from the document into the README, between its markers."""
    readme, text = Path(readme), Path(readme).read_text(encoding="utf-8")
    published = Path(doc).read_text(encoding="utf-8")
    for name in README_SECTIONS:
        start_marker, end_marker = readme_markers(name)
        start, end = text.find(start_marker), text.find(end_marker)
        if start < 0 or end < start:
            raise ValueError(f"{readme}: no '{start_marker}' ... '{end_marker}' block")
        block = f"{start_marker}\n\n{section_of(published, name)}\n\n"
        text = text[:start] + block + text[end:]
    readme.write_text(text, encoding="utf-8")


def main(argv: Iterable[str] | None = None) -> None:
    """`python -m adamix.report.writeup --readme README.md`: the published write-up's
    summary and headline into the README. The write-up itself is rendered by `snakemake writeup`,
    which hands it its inputs."""
    parser = argparse.ArgumentParser(
        description="Copy the summary and headline of the published write-up into the README."
    )
    parser.add_argument("--readme", required=True, help="the README to update")
    parser.add_argument("--published", default="docs/reproduction.md")
    args = parser.parse_args(argv)
    update_readme(args.readme, args.published)


if __name__ == "__main__":
    main()
