"""Snakemake script of rule scorecard_report: adamix.report.scorecard_page.write_scorecard."""

from adamix.joblog import job_log
from adamix.report.scorecard_page import write_scorecard

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_scorecard(
        calibration=snakemake.input.calibration,
        reference=snakemake.input.reference,
        timing=snakemake.input.timing,
        candidates=p.candidates,
        baselines=p.baselines,
        protocol=p.protocol,
        out=dict(snakemake.output.items()),
    )
