"""A response-time sparkline as SVG polyline points: no script, no inline style."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tocsin.pages.view import ResponseTimes

WIDTH = 240
HEIGHT = 32
PAD = 2

NO_TIMES = "No response times in the last %(hours)s hours"
MEDIAN = (
    "Median response time over the last %(hours)s hours: %(low)s–%(high)s ms, latest %(latest)s ms"
)


def polylines(values: Sequence[float | None]) -> list[str]:
    """The `points` attribute of one polyline per run of measured hours.

    x spreads the values over WIDTH; y maps the lowest value to the bottom and the highest
    to the top (a flat line sits in the middle). An hour without checks breaks the line; a
    run of one hour is drawn as a short dash.
    """
    measured = [v for v in values if v is not None]
    if not measured:
        return []
    low, high = min(measured), max(measured)
    step = WIDTH / max(len(values) - 1, 1)
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append((index * step, _y(value, low, high)))
    return [_points(run, step) for run in runs if run]


def _y(value: float, low: float, high: float) -> float:
    if high == low:
        return HEIGHT / 2
    return PAD + (high - value) / (high - low) * (HEIGHT - 2 * PAD)


def _points(run: list[tuple[float, float]], step: float) -> str:
    if len(run) == 1:
        x, y = run[0]
        run = [(max(x - step / 4, 0), y), (min(x + step / 4, WIDTH), y)]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in run)


def label(times: ResponseTimes, gettext: Callable[[str], str] | None = None) -> str:
    """The text alternative: the range and the latest median, in whole milliseconds.

    `gettext` translates the sentence (the public page's language); English by default.
    """
    translate = gettext or (lambda text: text)
    measured = [v for v in times.latency_ms if v is not None]
    if not measured:
        return translate(NO_TIMES) % {"hours": times.hours}
    return translate(MEDIAN) % {
        "hours": times.hours,
        "low": f"{min(measured):.0f}",
        "high": f"{max(measured):.0f}",
        "latest": f"{measured[-1]:.0f}",
    }
