"""Log records as JSON lines, for log shippers; configured by the CLI, never on import."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

_STANDARD = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, exception, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in ("message", "color_message"):
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


# httpx logs every request, URL and all, at INFO: subscribers' webhook URLs carry their
# tokens (Slack, Discord, Teams), and a fan-out would write a line per message.
QUIET = ("httpx", "httpcore")


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict sending our and granian's logs as JSON to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("_granian", "granian.access")
            },
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }
