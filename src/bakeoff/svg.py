"""Charts as inline SVG text: axes with round gridlines, lines, points and interval whiskers.

No plotting library and no script, so a chart is the same in report.html opened from disk, in
KFP's Visualizations tab, in an MLflow artifact view, in an e-mail and in the app (which shows the
report's own HTML). Each chart scales to its container's width (a viewBox), so a page of them
never scrolls sideways.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

PALETTE = ("#1f6feb", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bc4c00", "#0550ae", "#57606a")


@dataclass(frozen=True)
class Axis:
    """A value axis: it holds every point and interval it draws, never passes the quantity's own
    bounds (no ROC AUC of 1.004), and has round gridline values; ``log`` for costs spanning
    orders of magnitude."""

    low: float
    high: float
    ticks: list[float]
    log: bool = False

    def at(self, value: float) -> float:
        """Where ``value`` falls, from 0 (low) to 1 (high)."""
        if self.log:
            return (math.log10(value) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        return (value - self.low) / (self.high - self.low)


def axis(values: list[float], bounds: tuple[float | None, float | None] = (None, None), ticks: int = 5) -> Axis:
    """The axis for ``values``: padded by a few percent, clipped to ``bounds``, then widened to
    gridlines at a round step (1, 2 or 5 times a power of ten)."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.06 or abs(hi) * 0.02 or 0.5
    lo, hi = lo - pad, hi + pad
    if bounds[0] is not None:
        lo = max(lo, bounds[0])
    if bounds[1] is not None:
        hi = min(hi, bounds[1])
    raw = (hi - lo) / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if bounds[0] is not None:
        low = max(low, bounds[0])
    if bounds[1] is not None:
        high = min(high, bounds[1])
    count = round((high - low) / step)
    return Axis(low, high, [round(low + i * step, 12) for i in range(count + 1)])


def log_axis(values: list[float]) -> Axis:
    """Powers of ten around positive ``values`` (costs: milliseconds, seconds)."""
    positive = [v for v in values if v > 0] or [1.0]
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    high = max(high, low + 1)
    return Axis(10.0 ** low, 10.0 ** high, [10.0 ** p for p in range(low, high + 1)], log=True)


UNIT = Axis(0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])  # rates, probabilities


@dataclass
class Plot:
    """One chart: add series, then ``render``. Coordinates are in data units."""

    x: Axis
    y: Axis
    x_label: str
    y_label: str
    title: str
    width: int = 420
    height: int = 300
    left: int = 52  # room for the y axis's tick labels, or for category names (``dot_whisker``)
    parts: list[str] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (label, color, dash)

    RIGHT, TOP, BOTTOM = 12, 26, 40

    def px(self, x: float, y: float) -> tuple[float, float]:
        inner_w = self.width - self.left - self.RIGHT
        inner_h = self.height - self.TOP - self.BOTTOM
        return self.left + self.x.at(x) * inner_w, self.TOP + (1 - self.y.at(y)) * inner_h

    def line(self, xs: list[float], ys: list[float], color: str, label: str | None = None, dash: str = "",
             width: float = 2, step: bool = False) -> None:
        points = []
        for i, (x, y) in enumerate(zip(xs, ys)):
            if step and i:
                points.append("{:.1f},{:.1f}".format(*self.px(x, ys[i - 1])))
            points.append("{:.1f},{:.1f}".format(*self.px(x, y)))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="{width}"{dashed} '
                          f'points="{" ".join(points)}"/>')
        if label:
            self.legend.append((label, color, dash))

    def points(self, xs: list[float], ys: list[float], color: str, label: str | None = None, radius: float = 3,
               hollow: bool = False, titles: list[str] | None = None) -> None:
        fill = 'fill="none" stroke-width="1.5"' if hollow else f'fill="{color}" fill-opacity="0.8"'
        for i, (x, y) in enumerate(zip(xs, ys)):
            cx, cy = self.px(x, y)
            tip = f"<title>{html.escape(titles[i])}</title>" if titles else ""
            self.parts.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" stroke="{color}" '
                              f'{fill}>{tip}</circle>')
        if label:
            self.legend.append((label, color, ""))

    def whisker(self, low: tuple[float, float], high: tuple[float, float], color: str, width: float = 1.5) -> None:
        """An interval from point ``low`` to point ``high``: upright over a score axis, lying
        along one (``dot_whisker``)."""
        (x1, y1), (x2, y2) = self.px(*low), self.px(*high)
        self.parts.append(f'<line class="ci" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" '
                          f'stroke="{color}" stroke-width="{width}"/>')

    def label(self, x: float, y: float, text: str) -> None:
        cx, cy = self.px(x, y)
        self.parts.append(f'<text x="{cx + 6:.1f}" y="{cy - 5:.1f}" font-size="11">{html.escape(text)}</text>')

    def category(self, y: float, text: str) -> None:
        """A category's name left of the plot, level with ``y``."""
        _, cy = self.px(self.x.low, y)
        self.parts.append(f'<text x="{self.left - 10}" y="{cy + 4:.1f}" text-anchor="end" font-size="13">'
                          f"{html.escape(text)}</text>")

    def render(self) -> str:
        e = html.escape
        left, right = self.left, self.width - self.RIGHT
        top, bottom = self.TOP, self.height - self.BOTTOM
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {self.width} {self.height}" '
               f'width="100%" style="max-width:{self.width}px" role="img" aria-label="{e(self.title)}">',
               f'<text x="{left}" y="16" font-size="13" font-weight="600">{e(self.title)}</text>']
        for tick in self.x.ticks:
            x, _ = self.px(tick, self.y.low)
            out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#d8dee4"/>')
            out.append(f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">{tick:g}</text>')
        for tick in self.y.ticks:
            _, y = self.px(self.x.low, tick)
            out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dee4"/>')
            out.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{tick:g}</text>')
        out.append(f'<text x="{(left + right) / 2:.1f}" y="{self.height - 6}" font-size="11" '
                   f'text-anchor="middle">{e(self.x_label)}</text>')
        if self.y_label:
            out.append(f'<text transform="translate(12 {(top + bottom) / 2:.1f}) rotate(-90)" font-size="11" '
                       f'text-anchor="middle">{e(self.y_label)}</text>')
        out += self.parts
        out.append("</svg>")
        if not self.legend:
            return "".join(out)
        keys = "".join(f'<span class="key"><svg width="18" height="8"><line x1="0" x2="18" y1="4" y2="4" '
                       f'stroke="{c}" stroke-width="3"{f" stroke-dasharray={chr(34)}{d}{chr(34)}" if d else ""}/></svg>'
                       f"{e(label)}</span>" for label, c, d in self.legend)
        return f'<figure class="plot">{"".join(out)}<figcaption>{keys}</figcaption></figure>'


@dataclass(frozen=True)
class Dot:
    """One line of a ``dot_whisker`` chart."""

    label: str
    value: float
    interval: tuple[float, float] | None
    color: str
    tip: str  # shown on hover


ROW_HEIGHT = 28
INTERVAL_COLOR = "#7a8ca3"


def dot_whisker(dots: list[Dot], scale: Axis, x_label: str, title: str, width: int = 780) -> str:
    """One line a category, first on top: its value a dot, its interval a whisker along ``scale``;
    the frame, gridlines and ticks are ``Plot``'s, so this chart reads as every other one."""
    plot = Plot(scale, Axis(0, len(dots), []), x_label, "", title, width=width, left=190,
                height=ROW_HEIGHT * len(dots) + Plot.TOP + Plot.BOTTOM)
    for i, dot in enumerate(dots):
        y = len(dots) - i - 0.5
        plot.category(y, dot.label)
        if dot.interval:
            plot.whisker((dot.interval[0], y), (dot.interval[1], y), INTERVAL_COLOR, width=2)
        plot.points([dot.value], [y], dot.color, radius=5, titles=[dot.tip])
    return plot.render()
