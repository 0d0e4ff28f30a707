"""Logging of a pipeline job: its log file gets every message and, on failure, the traceback."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator


class _LogFile(logging.FileHandler):
    """A log file that cannot be written (a full disk) is said once on stderr, naming the
    file and the reason; later messages are dropped silently, not each with a traceback."""

    failed = False

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the flush of what a full disk did not take
            super().close()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        if not self.failed:
            self.failed = True
            error = sys.exc_info()[1]
            reason = (getattr(error, "strerror", None) or str(error)).lower()
            print(
                f"WARNING: log file {self.baseFilename} not written: {reason};"
                " its further messages are dropped",
                file=sys.stderr,
            )


@contextlib.contextmanager
def job_log(path: str) -> Iterator[logging.Logger]:
    """Log to `path` (the rule's `log:` file) for the duration; an exception is written
    there with its traceback, then raised again, so Snakemake still sees the job fail."""
    logging.basicConfig(
        handlers=[_LogFile(path)], level=logging.INFO, format="%(asctime)s %(message)s", force=True
    )
    logger = logging.getLogger("adamix")
    try:
        yield logger
    except BaseException:
        logger.exception("job failed")
        raise
    finally:
        logging.shutdown()
