"""Figures a reader can read: plain tick labels on log axes, whole-number epoch ticks,
legends at reading size, coinciding curves told apart and named, every line labelled."""

import math

import pytest

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rnnlm.training import figure_style
from rnnlm.training.loop import EpochStats
from rnnlm.training.plot import history_figure


def tick_labels(fig, ax, axis):
    fig.canvas.draw()
    ticks = [*axis.get_majorticklabels(), *axis.get_minorticklabels()]
    return [t.get_text() for t in ticks if t.get_text()]


def test_plain_numbers_are_what_a_reader_writes():
    assert [figure_style.plain(x) for x in (2.5, 20.0, 12.5, 1000.0, 0.04)] == ["2.5", "20", "12.5", "1,000", "0.04"]


def test_a_history_has_plain_log_labels_and_whole_epochs():
    history = [EpochStats(e, 26 * math.exp(-e / 2) + 4, 1000.0, 1.0, 27 * math.exp(-e / 2) + 5) for e in (1, 2, 3)]
    fig = history_figure(history, "rnn on torch")
    ax = fig.axes[0]
    y = tick_labels(fig, ax, ax.yaxis)
    assert y and not [t for t in y if "$" in t or "10^" in t or "×" in t], y
    assert all(float(t.replace(",", "")) > 0 for t in y)
    low, high = ax.get_xlim()
    assert [t for t in ax.get_xticks() if low <= t <= high] == [1, 2, 3]  # not 1.25, 1.75
    assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {figure_style.LEGEND_SIZE}


def curves_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    epochs = list(range(1, 21))
    ax.plot(epochs, [30 / e for e in epochs], label="scratch")
    ax.plot(epochs, [30 / e for e in epochs], "--", label="scratch, no clipping")
    ax.plot(epochs, [20 / e for e in epochs], label="concise")
    figure_style.reference_line(ax, 1.2, "unigram")
    return fig, ax


def test_coinciding_curves_are_marked_apart_and_named_in_the_legend():
    fig, ax = curves_axes()
    figure_style.readable(ax, log_y=True, epochs=True)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["scratch", "scratch, no clipping (same curve as scratch)", "concise", "unigram"]
    first, second, third, unigram = ax.get_lines()
    assert len({first.get_marker(), second.get_marker(), third.get_marker()}) == 3
    assert first.get_markevery() != second.get_markevery()  # their markers fall on different epochs
    assert unigram.get_marker() in (None, "None", "")  # a level line, labelled and unmarked


def test_a_long_legend_goes_under_the_axes_at_reading_size():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for k in range(7):
        ax.plot([1, 2, 3], [k + 1, k + 2, k + 3], label=f"run {k}")
    figure_style.readable(ax, epochs=True)
    fig.canvas.draw()
    box, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert box.y1 < axes_box.y0 and fig.get_figheight() > 4  # below, in a taller figure
    assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {figure_style.LEGEND_SIZE}
