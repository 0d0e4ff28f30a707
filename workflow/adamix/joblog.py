"""Logging of a pipeline job: its log file gets every message and, on failure, the traceback."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def job_log(path: str) -> Iterator[logging.Logger]:
    """Log to `path` (the rule's `log:` file) for the duration; an exception is written
    there with its traceback, then raised again, so Snakemake still sees the job fail."""
    logging.basicConfig(
        filename=path, level=logging.INFO, format="%(asctime)s %(message)s", force=True
    )
    logger = logging.getLogger("adamix")
    try:
        yield logger
    except BaseException:
        logger.exception("job failed")
        raise
    finally:
        logging.shutdown()
