"""Seeds until decided: the primary hypotheses of the pre-registered analysis
(docs/paper.md) and the fine-tuning jobs each look reads (rules decide_look and decide).

A hypothesis is a primary claim under a primary reading (config ``decide.readings``).
Look 1 reads every hypothesis at the first count of ``decide.looks`` seeds; each later
look reads the counts that the look before asked for (adamix.report.decide), so seeds are
added only to the cells of hypotheses still undecided, up to the last count.

The seeds that looks 2 and later add train on the shared subset or on a subset drawn per
seed (config ``decide.subset``; look 1's seeds always on the shared one): under ``auto``,
the pre-registered rule, per seed where look 1 found that the subset adds variance
(adamix.report.decide.subset_verdict, on the jobs of subset_entries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adamix.plan.config import per_seed_reading, size_label

# A primary claim and the experiment whose runs and sizes it compares: claim 1 at the
# experiment's first size (AdaMix+Power against the best other run), claim 8 at each size
# (AdaMix+Power against Cons+Cons).
CLAIMS = {"claim1": "exp1", "claim8": "exp5"}


def hypotheses(config: Mapping) -> dict[str, tuple[str, str]]:
    """{name: (claim, reading)} of every primary hypothesis, names like 'claim1 default'."""
    return {
        f"{claim} {reading}": (claim, reading)
        for claim in CLAIMS
        for reading in config["decide"]["readings"]
    }


def first_counts(config: Mapping) -> dict[str, int]:
    """The seeds of every hypothesis at look 1."""
    return dict.fromkeys(hypotheses(config), config["decide"]["looks"][0])


def seed_list(seeds: Sequence[int], n: int) -> list[int]:
    """The first `n` seeds: the config's, then the next integers above them."""
    out, nxt = list(seeds)[:n], max(seeds) + 1
    while len(out) < n:
        out.append(nxt)
        nxt += 1
    return out


def look_entries(plan, counts: Mapping[str, int], per_seed: bool = False) -> list[list]:
    """[hypothesis, reading, run, size, seed, metrics parquet] of every job a look reads,
    each hypothesis at counts[hypothesis] seeds (`plan`: an adamix.plan.study.Plan); with
    `per_seed`, the seeds beyond look 1's read the jobs of the reading's per-seed subset
    counterpart (per_seed_reading)."""
    first = seed_list(plan.seeds, plan.config["decide"]["looks"][0])
    entries = []
    for name, (claim, reading) in hypotheses(plan.config).items():
        exp = plan.experiments[CLAIMS[claim]]
        sizes = exp["sizes"][:1] if claim == "claim1" else exp["sizes"]
        added = per_seed_reading(plan.config, reading) if per_seed else reading
        for size in sizes:
            for run in exp["runs"]:
                for seed in seed_list(plan.seeds, counts[name]):
                    job_reading = reading if seed in first else added
                    job = plan.job(exp["dataset"], job_reading, size, run, seed)
                    entries.append([name, reading, run, size_label(size), seed, job.metrics])
    return entries


def subset_entries(plan) -> list[list]:
    """[reading, run, seed, per_seed, metrics parquet] of the jobs whose spread over seeds
    tells whether the subset adds variance (config decide.subset `auto`): experiment 1's
    runs at its first size and look 1's seeds, under each primary reading (per_seed False)
    and its per-seed subset counterpart (True)."""
    exp = plan.experiments[CLAIMS["claim1"]]
    seeds = seed_list(plan.seeds, plan.config["decide"]["looks"][0])
    entries = {}  # each job once: a run that reads no adaptive setting shares its jobs
    for reading in plan.config["decide"]["readings"]:
        for job_reading, per_seed in (
            (reading, False),
            (per_seed_reading(plan.config, reading), True),
        ):
            for run in exp["runs"]:
                for seed in seeds:
                    job = plan.job(exp["dataset"], job_reading, exp["sizes"][0], run, seed)
                    entries.setdefault(job.metrics, [job_reading, run, seed, per_seed])
    return [[*entry, path] for path, entry in entries.items()]
