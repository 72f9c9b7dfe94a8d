"""How rnnlm's figures make an axes readable, applied once its curves are drawn: plain tick
labels on log axes (20, 2.5, 1,000; never 2×10^1), whole-number epoch ticks, legends at
reading size, and curves told apart where they lie on top of each other (each its own
hollow marker, markers staggered between curves, and a legend note naming the curve a line
coincides with). Used by `--plot`, `rnnlm plot` and the studies' figures."""

import math
from typing import Any, Dict

LEGEND_SIZE = 9  # points; matplotlib's default is 10, 6 is unreadable in print
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "*")
MARKS_PER_CURVE = 12  # at most: a 500-epoch curve is a line with markers, not a row of them
REFERENCE = "reference"  # the gid of a level line (a baseline): labelled, never marked
SAME = 1e-3  # relative: curves closer than this everywhere look like one line


def plain(x):
    """A tick value as a reader writes it."""
    if x >= 100 or (x >= 1 and abs(x - round(x)) < 1e-9):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _log_formatter(minor):
    from matplotlib.ticker import Formatter

    class PlainLog(Formatter):
        """Plain numbers on a log axis; minor ticks labelled where the axis spans few
        decades (a perplexity axis from 5 to 30 has no major tick but 10)."""

        def __call__(self, x, pos=None):
            if x <= 0 or not math.isfinite(x):
                return ""
            if minor and self.axis is not None:
                low, high = sorted(self.axis.get_view_interval())
                decades = math.log10(high / low) if low > 0 else math.inf
                mantissa = round(x / 10 ** math.floor(math.log10(x) + 1e-9))
                if mantissa not in (range(2, 10) if decades < 1 else (2, 5) if decades < 2.5 else ()):
                    return ""
            return plain(x)

    return PlainLog()


def plain_log_ticks(axis):
    """`axis` (ax.xaxis or ax.yaxis) of a log-scaled axes labelled in plain numbers."""
    axis.set_major_formatter(_log_formatter(minor=False))
    axis.set_minor_formatter(_log_formatter(minor=True))


def integer_ticks(axis):
    """Ticks at whole numbers only (epochs 1, 2, 3, not 1.25 and 1.75)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _points(line):
    import numpy as np

    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def _coincide(a, b):
    import numpy as np

    (xa, ya), (xb, yb) = _points(a), _points(b)
    if xa.shape != xb.shape or not np.array_equal(xa, xb):
        return False
    both = np.isfinite(ya) & np.isfinite(yb)
    return (
        bool(both.any())
        and bool(np.array_equal(np.isfinite(ya), np.isfinite(yb)))
        and bool(np.all(np.abs(ya[both] - yb[both]) <= SAME * np.maximum(np.abs(yb[both]), 1e-12)))
    )


def tell_apart(ax, markers=True):
    """Give every labelled curve (with `markers`) its own hollow marker (an unlabelled one, e.g. a run's
    dashed validation line, takes the marker of the labelled curve of its colour), stagger
    the markers of curves, and note in the legend which curve a line coincides with."""
    lines = [line for line in ax.get_lines() if line.get_gid() != REFERENCE]
    labelled = [line for line in lines if not line.get_label().startswith("_")]
    curve_of: Dict[Any, int] = {}  # colour -> the index of its labelled curve
    for k, line in enumerate(labelled):
        curve_of.setdefault(line.get_color(), k)
    for i, line in enumerate(lines):
        n = len(line.get_xdata())
        if not markers or line.get_color() not in curve_of or n < 2:
            continue
        k = curve_of[line.get_color()]
        step = max(1, math.ceil(n / MARKS_PER_CURVE))
        # curve k's markers start k points in: two coinciding curves show both their markers;
        # the first drawn lies on top, a later one on it shows by those markers
        line.set(
            marker=MARKERS[k % len(MARKERS)],
            markerfacecolor="none",
            markersize=6,
            markevery=(k % step, step),
            zorder=2 + len(lines) - i,
        )
    for i, line in enumerate(labelled):
        same = next((other for other in labelled[:i] if _coincide(line, other)), None)
        if same is not None:
            line.set_label(f"{line.get_label()} (same curve as {same.get_label()})")


def reference_line(ax, y, label):
    """A labelled horizontal level (e.g. the unigram perplexity), drawn under the curves."""
    ax.axhline(y, color="0.45", lw=1.0, ls=(0, (6, 3)), label=label, gid=REFERENCE, zorder=1)


def legend(ax, outside=None):
    """The legend at reading size; under the axes when it would cover the curves (more than
    4 entries), where a panel beside it leaves it room (save with bbox_inches="tight")."""
    entries = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    if not entries:
        return
    if outside is None:
        outside = len(entries) > 4
    if outside:
        from matplotlib.transforms import offset_copy

        columns = 1 if len(entries) <= 8 else 2  # one column: no wider than its axes
        rows = math.ceil(len(entries) / columns)
        fig = ax.figure
        # under the tick labels and the axis label (a fixed 38 points below the axes, whatever
        # their height), in a figure grown by the legend's rows so the axes keep theirs
        fig.set_figheight(fig.get_figheight() + rows * LEGEND_SIZE * 1.7 / 72 + 0.6)
        below = offset_copy(ax.transAxes, fig=fig, y=-38, units="points")
        drawn = ax.legend(
            fontsize=LEGEND_SIZE,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            bbox_transform=below,
            frameon=False,
            ncol=columns,
        )
    else:
        drawn = ax.legend(fontsize=LEGEND_SIZE)
    for text in drawn.get_texts():
        text.set_parse_math(False)  # a label may be a file's text: '$\\foo{$' is drawn, not parsed as mathtext


def readable(ax, log_x=False, log_y=False, epochs=False, outside=None, markers=True):
    """Everything above on one axes, once its curves are drawn (`markers=False` for dense
    series, such as a time series of a thousand noisy points, where markers are clutter)."""
    if log_x:
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
    if log_y:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    if epochs:
        integer_ticks(ax.xaxis)
    tell_apart(ax, markers)
    legend(ax, outside)
