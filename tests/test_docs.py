"""The repository stands on its own: its spec (docs/paper.md) is inside it, and agrees with
the numbers the code uses and the checksums of config.yaml (their one place)."""

from __future__ import annotations

import re
import subprocess

import yaml

from adamix.report.paper import paper_results
from conftest import REPO

SPEC = REPO / "docs" / "paper.md"


def test_nothing_points_outside_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = [p for p in tracked if p.endswith((".md", ".py", ".yaml", ".smk", ".rst", ".toml"))]
    texts = [p for p in texts if (REPO / p).is_file()]  # not those deleted since the commit
    assert texts, "no tracked files found"
    for path in texts:
        text = (REPO / path).read_text(encoding="utf-8")
        for outside in (
            "../" + "shared",
            "PAPER" + ".md",
        ):  # not spelled out: this file is checked too
            assert outside not in text, f"{path} points to {outside}"


def test_the_spec_shows_the_papers_numbers_as_the_code_has_them():
    spec = SPEC.read_text(encoding="utf-8")
    experiments = paper_results()["experiments"]
    for number, name in enumerate(experiments, start=1):
        row = next(line for line in spec.splitlines() if line.startswith(f"| {number} | "))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        runs = cells[2].split(", ")
        values = [float(v) for v in cells[4].split(", ")]
        table = experiments[name]["rer_epoch50"]
        assert runs == list(table), name
        assert values == [v for sizes in table.values() for v in sizes.values()], name
    seconds = experiments["exp1"]["wall_seconds_50_epochs"]
    for run, value in seconds.items():
        assert f"{run.split('+')[0]} {value:.2f} s" in spec, run


def test_the_spec_shows_the_checksums_the_download_checks():
    spec = SPEC.read_text(encoding="utf-8")
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    datasets = config["datasets"]
    fashion = datasets["fashion"]
    for files in (datasets["mnist"]["files"], fashion["files"], fashion["offline"]["files"]):
        for name, sha256 in files.items():
            assert re.search(rf"\| {re.escape(name)} \| {sha256} \|", spec), name
    for source in datasets.values():
        assert source["offline"]["sha256"] in spec
        assert source["offline"]["version"] in spec


def test_the_docs_describe_the_software_not_how_it_was_made():
    # README.md and docs/ say what the pipeline does and what it measured, never on which
    # machines or by whom it was built (patterns assembled: this file is not scanned).
    made = re.compile(
        "|".join(
            [
                r"\bbuild" + r" machines?\b",
                r"\bCI" + r" machines?\b",
                r"this project's \w+ machines?",
                r"\bsessions?\b",
                r"\blent\b",
            ]
        ),
        re.IGNORECASE,
    )
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            assert not made.search(line), f"{page.name}:{number}: {line.strip()}"
