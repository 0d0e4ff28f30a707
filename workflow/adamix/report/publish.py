"""`snakemake publish`: the write-up of the full default study and its reference, into
docs/ all at once.

The published files are not Snakemake outputs (Snakemake deletes a job's outputs when it
starts and when it fails): every new file is first written in full to a staging folder
beside them, then each replaces its old one with os.replace while SIGINT and SIGTERM wait.
A failure or an interruption before that leaves the old write-up whole and no staged file
behind; only a SIGKILL within the renames (microseconds) could mix old and new files, and
rerunning `snakemake publish` completes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path

from adamix.atomic import sha256_of
from adamix.report.metrics import read_metrics, write_reference

STAGING = ".publish"  # the staging folder, inside docs/


def publish(
    copies: Sequence[tuple[str, str]],
    metrics: Iterable[str],
    reference: str,
    listing: str,
    docs: str = "docs",
    search: Iterable[tuple[str, Sequence]] = (),
    added: Iterable[str] = (),
) -> None:
    """Copy each (source, destination) of `copies` and write the reference of the gathered
    `metrics`, of the tuning's `search` jobs (each (parquet, [reading, run, rate])) and of
    the jobs of the seeds that `decide` `added`,
    every row with its role and rate and its sha256 beside it (adamix.report.metrics.
    write_reference), to `reference`: staged under `docs`/.publish, then moved into place
    together. `listing` gets each published file with its sha256 (the rule's output).
    ValueError, before anything is written, if the jobs were computed by more than one
    version of the code."""
    metrics, search, added = list(metrics), list(search), list(added)
    check_one_code([*metrics, *(path for path, _ in search), *added])
    docs_root = Path(docs).resolve()
    staging = docs_root / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an earlier kill may have left
    staged: list[tuple[Path, Path]] = []

    def stage(dest: str) -> Path:
        final = Path(dest).resolve()
        tmp = staging / final.relative_to(docs_root)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        staged.append((tmp, final))
        return tmp

    try:
        for source, dest in copies:
            shutil.copyfile(source, stage(dest))
        write_reference(metrics, stage(reference), search=search, added=added)
        stage(f"{reference}.sha256")  # written beside the reference by write_reference
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for tmp, final in staged:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    lines = [f"{sha256_of(final)}  {os.path.relpath(final)}" for _, final in staged]
    Path(listing).write_text("\n".join(lines) + "\n")


def check_one_code(metrics: Iterable[str]) -> None:
    """ValueError unless every row of the gathered `metrics` was computed by one version
    of the numeric code (the `code` column, adamix.provenance)."""
    codes = read_metrics(metrics).column("code").value_counts().to_pylist()
    if len(codes) > 1:
        versions = ", ".join(f"{c['values']} ({c['counts']} rows)" for c in codes)
        raise ValueError(
            f"the jobs of this run were computed by {len(codes)} versions of the numeric"
            f" code: {versions}. `snakemake -n` shows the jobs whose code is not the current"
            ' one ("Params have changed"), `snakemake --cores N` reruns them; then publish.'
        )
