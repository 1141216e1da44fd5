"""Structured, one-line logs (key=value), without personal data."""

from __future__ import annotations

import logging
import os
import sys


class KeyValueFormatter(logging.Formatter):
    """``ts level logger message`` on one line, easy to grep and to ship."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record).replace("\n", " | ")
        return (
            f"ts={self.formatTime(record)} level={record.levelname} logger={record.name} {message}"
        )


def configure_logging(*, testing: bool = False) -> None:
    """Install the formatter once on the root logger."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, KeyValueFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("msg=%(message)s"))
    root.addHandler(handler)
    root.setLevel(os.environ.get("LOG_LEVEL", "WARNING" if testing else "INFO"))
