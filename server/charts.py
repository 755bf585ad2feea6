"""Chart geometry for the pages, drawn by the templates as inline SVG (the pages run no script):
grouped horizontal bars for rates, a line per series, vertical bars for counts."""

from __future__ import annotations

COLOURS = ("#0b6bcb", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0c8599")
WIDTH = 640
_LABEL = 170  # the left margin that holds a bar's label
_PAD = 36


def rate_bars(names: list[str], rows: list[tuple[str, list[float | None]]]) -> dict:
    """One group per metric (``rows``: its name and one value in [0, 1] per series in ``names``),
    one bar per series."""
    bar, gap = 12, 10
    group = bar * len(names) + gap
    span = WIDTH - _LABEL - 60
    bars, labels = [], []
    for i, (metric, values) in enumerate(rows):
        top = 30 + i * group
        labels.append({"y": top + bar * len(names) / 2 + 4, "text": metric})
        for j, value in enumerate(values):
            if value is None:
                continue
            length = span * max(0.0, min(1.0, value))
            bars.append(
                {
                    "x": _LABEL,
                    "y": top + j * bar,
                    "width": round(length, 1),
                    "height": bar - 2,
                    "colour": COLOURS[j % len(COLOURS)],
                    "label": f"{value:.3f}",
                    "label_x": round(_LABEL + length + 4, 1),
                }
            )
    height = 30 + len(rows) * group + 6
    return {
        "width": WIDTH,
        "height": height,
        "left": _LABEL,
        "right": WIDTH - 60,
        "bars": bars,
        "labels": labels,
        "legend": _legend(names),
    }


def lines(series: list[tuple[str, list[float]]], x_first: str, x_last: str, height: int = 260) -> dict:
    """A polyline per series over values in [0, 1], evenly spread from left to right."""
    drawn = []
    for i, (_, values) in enumerate(series):
        n = max(len(values) - 1, 1)
        points = " ".join(
            f"{_PAD + (WIDTH - 2 * _PAD) * j / n:.1f},{height - _PAD - (height - 2 * _PAD) * v:.1f}"
            for j, v in enumerate(values)
        )
        drawn.append({"points": points, "colour": COLOURS[i % len(COLOURS)]})
    ticks = [{"y": height - _PAD - (height - 2 * _PAD) * t / 4, "label": f"{t / 4:.2f}"} for t in range(5)]
    return {
        "width": WIDTH,
        "height": height,
        "pad": _PAD,
        "lines": drawn,
        "ticks": ticks,
        "x_first": x_first,
        "x_last": x_last,
        "legend": _legend([name for name, _ in series]),
    }


def count_bars(buckets: list[tuple[str, int]], height: int = 200) -> dict:
    """A vertical bar per bucket, its count above it."""
    most = max((count for _, count in buckets), default=0) or 1
    slot = (WIDTH - 2 * _PAD) / max(len(buckets), 1)
    bars = []
    for i, (name, count) in enumerate(buckets):
        tall = (height - 2 * _PAD) * count / most
        x = _PAD + i * slot
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(height - _PAD - tall, 1),
                "width": round(slot * 0.7, 1),
                "height": round(tall, 1),
                "centre": round(x + slot / 2, 1),
                "name": name,
                "count": count,
            }
        )
    return {"width": WIDTH, "height": height, "base": height - _PAD, "bars": bars}


def _legend(names: list[str]) -> list[dict]:
    """One entry per series along the top (a swatch at x, the name after it)."""
    return [
        {"name": name, "colour": COLOURS[i % len(COLOURS)], "x": 8 + i * 155} for i, name in enumerate(names)
    ]
