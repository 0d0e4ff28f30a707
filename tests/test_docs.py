"""The repository stands on its own: its spec (docs/paper.md) is inside it, and agrees with
the numbers the code uses and the checksums of config.yaml (their one place)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from adamix.report.paper import paper_results
from conftest import REPO, copy_workflow, snakemake

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


# --- the commands the docs show ----------------------------------------------------------

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CLUSTER = "<!-- cluster -->"  # on the line before a code block, or in a table row
# Commands shown in the docs that a dry run here does not check: another test runs them
# (the test file, and the call in it).
RUN_ELSEWHERE = {
    # rule demo: tests/test_demo.py runs it
    "snakemake --cores 2 demo": ("tests/test_demo.py", '"--cores", "2", "demo"'),
    # A report of finished results (a dry run has none): tests/test_pipeline.py makes it
    # from the tiny pipeline's results.
    "snakemake --report results/report.html": (
        "tests/test_pipeline.py",
        '"--report", "results/report.html"',
    ),
}
# publish refuses any config but the full default study (that is its point), and the
# scorecard pairs with the published reference of that study's protocol: their dry runs
# plan the study of config.yaml alone.
WORKFLOW_CONFIG_ONLY = {"publish", "scorecard"}


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str  # one command: `a && b` is two
    marked: bool  # marked as needing a cluster


SNAKEMAKE = re.compile(r"(?:[A-Za-z_]\w*=\S*\s+)*snakemake(?:\s|$)")


def _commands(text: str) -> list[str]:
    """The commands of a shell line: `a && b` is two."""
    return [part.strip() for part in text.split("&&") if part.strip()]


def _words(command: str) -> list[str]:
    """The command's words, without leading VAR=value assignments."""
    words = shlex.split(command, comments=True)
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        words = words[1:]
    return words


def doc_commands() -> list[Command]:
    """Every shell command that starts with `snakemake` (after VAR=value assignments) in
    README.md and docs/*.md: in fenced code blocks (a trailing backslash joins the next
    line) and in the backticked spans of table rows."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        fence = None  # the index of the open block's fence line
        joined, first = "", 0
        for index, line in enumerate(lines):
            if line.lstrip().startswith("```"):
                fence = index if fence is None else None
                continue
            if fence is not None:
                marked = fence > 0 and lines[fence - 1].strip() == CLUSTER
                first = first if joined else index
                if line.endswith("\\"):
                    joined += line[:-1] + " "
                    continue
                texts, number, joined = [joined + line], first + 1, ""
            elif line.lstrip().startswith("|"):
                marked, number = CLUSTER in line, index + 1
                texts = re.findall(r"`([^`]+)`", line)
            else:
                continue
            for text in texts:
                for command in _commands(text):
                    if SNAKEMAKE.match(command):
                        name = str(page.relative_to(REPO))
                        found.append(Command(name, number, " ".join(command.split()), marked))
    return found


def needs_cluster(command: str) -> bool:
    """A Slurm profile or executor, or any `--profile` (site profiles are clusters')."""
    words = _words(command)
    return any(
        word == "--profile" or word.startswith("--slurm") or "slurm" in re.split("[/=]", word)
        for word in words
    )


COMMANDS = doc_commands()
DRY_RUNS = sorted(
    {c.text for c in COMMANDS if not c.marked and c.text not in RUN_ELSEWHERE},
    key=[c.text for c in COMMANDS].index,  # in the order of the docs
)


def test_the_docs_commands_are_found():
    texts = {c.text for c in COMMANDS}
    assert "snakemake --cores all" in texts  # README, Quick start
    assert any(c.marked for c in COMMANDS)  # docs/clusters.md, the Slurm command
    assert len(DRY_RUNS) >= 15


def test_cluster_commands_are_marked_and_only_they():
    for c in COMMANDS:
        where = f"{c.page}:{c.line}: {c.text}"
        if needs_cluster(c.text):
            assert c.marked, f"{where}: needs a cluster, put {CLUSTER} on the line before"
        else:
            assert not c.marked, f"{where}: marked {CLUSTER}, but runs without a cluster"


def test_the_commands_run_elsewhere_are_in_the_docs_and_in_their_tests():
    texts = {c.text for c in COMMANDS}
    for command, elsewhere in RUN_ELSEWHERE.items():
        assert command in texts, f"{command} is no longer in the docs: drop it here"
        test, call = elsewhere
        assert call in (REPO / test).read_text(encoding="utf-8"), f"{test} runs {command}"


@pytest.fixture(scope="module")
def docs_workdir(tmp_path_factory) -> Path:
    """One copy of the workflow for every dry run (a dry run writes no results), with the
    published reference that `snakemake compare` reads."""
    workdir = copy_workflow(tmp_path_factory.mktemp("docs"))
    shutil.copytree(REPO / "docs" / "reference", workdir / "docs" / "reference")
    return workdir


@pytest.mark.parametrize("command", DRY_RUNS)
def test_the_docs_command_plans(command, docs_workdir, monkeypatch):
    """Each command runs as a dry run (`-n`) on the test config (publish: on config.yaml,
    the only one it takes): it parses, and plans its jobs."""
    words = shlex.split(command, comments=True)
    while words[0] != "snakemake":  # VAR=value before the command
        name, value = words.pop(0).split("=", 1)
        monkeypatch.setenv(name, value)
    args = words[1:]
    if "-n" not in args and "--dry-run" not in args:
        args = ["-n", *args]
    config = None if WORKFLOW_CONFIG_ONLY & set(args) else "tests/config.yaml"
    snakemake(docs_workdir, *args, config=config)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_docs_links_resolve():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https://...
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target} points to nothing"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", linked.read_text(encoding="utf-8"), re.M)
                anchors = {_anchor(h) for h in headings}
                assert anchor in anchors, f"{page.name}: {target}: no such heading"
