"""A trace's seconds drawn for a person: acceleration, tilt, the detector's features and its
learned scores against their thresholds, belt speed and range, with the trip moment marked.

matplotlib is an optional extra (`pip install 'treadguard[plot]'`): the daemon
never needs it, so it is imported only here, only when a plot is asked for. The
figure is drawn with the Agg renderer (no display needed) and is byte-for-byte
the same for the same input: the SVG's ids are salted with a fixed string and
no date or software version is written into either format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from monitor.config.schema import Config
from monitor.formats.trace_format import Trace
from monitor.service.trips.trip_features import FEATURES, detector_features

FORMATS = (".png", ".svg")
TRIP_COLOUR = "#d62728"
THRESHOLD_COLOURS = ("#555555", "#9467bd", "#8c564b")
SCORE_SPAN_LOGIT = 15.0  # how far below its threshold a learned score is drawn
LEGEND = dict(loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)  # beside the panel, never on the data


class PlotError(Exception):
    """A plot cannot be made: a message for the person, naming what to do."""


@dataclass(frozen=True)
class TripMark:
    t_s: float  # in the trace's own time base
    label: str  # e.g. "stumble (stumble_detected)"
    # The detector's values as the daemon had them when it fired (a problem's `values`), and when.
    values: dict[str, float] | None = None
    values_t_s: float | None = None


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("drawing plots needs matplotlib, which is not installed; "
                        "install it with: pip install 'treadguard[plot]'") from None
    return matplotlib, Figure


def check_plot_path(path: str) -> None:
    """Refuse a file type we cannot draw before any work is done."""
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise PlotError(f"{path}: a plot is written as .png or .svg; name the file FILE.png or FILE.svg")
    _matplotlib()


def plot_trace(trace: Trace, config: Config, path: str, *, trip: TripMark | None = None,
               title: str = "", window_s: tuple[float, float] | None = None,
               rear_edge_m: float | None = None, max_speed_mps: float | None = None, note: str = "") -> None:
    """Draw the trace (or the window (start, end) of it, trace time) into path (.png or .svg).
    Times are shown from the trip moment when there is one. Raises PlotError or OSError."""
    check_plot_path(path)
    matplotlib, Figure = _matplotlib()
    features = detector_features(trace, config)
    origin = trip.t_s if trip is not None else float(trace.t_s[0]) if trace.samples else 0.0
    lo, hi = window_s if window_s is not None else (-np.inf, np.inf)

    def cut(t: np.ndarray, *ys: np.ndarray) -> list[np.ndarray]:
        keep = (t >= lo) & (t <= hi)
        return [t[keep] - origin] + [y[keep] for y in ys]

    panels = 2 + len(FEATURES) - 1 + (trace.belt_mps is not None) + (trace.range_m is not None)
    with matplotlib.rc_context({"svg.hashsalt": "treadguard", "font.size": 9, "axes.titlesize": 9,
                                "legend.fontsize": 7.5, "axes.grid": True, "grid.alpha": 0.3}):
        fig = Figure(figsize=(12, 1.5 * panels + 1.0), dpi=100, layout="constrained")
        axes = fig.subplots(panels, 1, sharex=True)
        ax_iter = iter(axes)

        ax = next(ax_iter)
        t, acc = cut(trace.t_s, trace.accel_mps2)
        if len(t):
            ax.plot(t, np.linalg.norm(acc, axis=1), lw=2.2, color="#bbbbbb", label="|a|", zorder=1)
            for i, name in enumerate("xyz"):  # drawn over |a|: the up axis is about |a| when upright
                ax.plot(t, acc[:, i], lw=0.7, label=f"a{name} (sensor)", zorder=2)
        ax.axhline(9.80665, color="grey", lw=0.8, ls=":", label="1 g")
        ax.set_ylabel("acceleration\n(m/s²)")
        ax.legend(**LEGEND)

        ax = next(ax_iter)
        tilt_feature = FEATURES[0]
        ft, tilt = cut(features.t_s, features.values[tilt_feature.name])
        ax.plot(ft, tilt, color="black", lw=1.1, label="tilt from the walker's own upright")
        _thresholds(ax, tilt_feature, features.thresholds)
        ax.set_ylabel(tilt_feature.label.replace(" (", "\n("))
        ax.legend(**LEGEND)

        _recorded(ax, tilt_feature, trip, origin)
        for feature in FEATURES[1:]:
            ax = next(ax_iter)
            ft, y = cut(features.t_s, features.values[feature.name])
            if feature.name.endswith("_logit"):  # a learned score: judged only behind its gate, so in pieces
                ax.plot(ft, y, color="black", lw=1.1, marker=".", ms=2,
                        label=feature.label.split(" (")[0] + " (where judged)")
                _score_limits(ax, y, [features.thresholds[field] for field, _ in feature.thresholds])
            else:
                ax.plot(ft, y, color="black", lw=1.1, label=feature.label.split(" (")[0])
            _thresholds(ax, feature, features.thresholds)
            _recorded(ax, feature, trip, origin)
            ax.set_ylabel(feature.label.replace(" (", "\n("))
            ax.legend(**LEGEND)

        if trace.belt_mps is not None:
            ax = next(ax_iter)
            has = ~np.isnan(trace.belt_mps)
            bt, belt = cut(trace.t_s[has], trace.belt_mps[has])
            ax.plot(bt, belt, color="#1f77b4", lw=1.1, drawstyle="steps-post", label="belt speed")
            if max_speed_mps is not None:
                ax.axhline(max_speed_mps, color=THRESHOLD_COLOURS[0], ls="--", lw=1,
                           label=f"overspeed {max_speed_mps:.2f} m/s")
            ax.set_ylabel("belt\n(m/s)")
            ax.set_ylim(bottom=0)
            ax.legend(**LEGEND)

        if trace.range_m is not None:
            ax = next(ax_iter)
            has = ~np.isnan(trace.range_m)
            rt, rng = cut(trace.t_s[has], trace.range_m[has])
            edge = rear_edge_m if rear_edge_m is not None else trace.rear_edge_m
            if edge is not None:
                margin_m = edge - rng
                seen = margin_m >= 0  # a reading beyond the rear edge is the wall: nobody in the beam
                ax.plot(rt, np.where(seen, margin_m, np.nan), color="#2ca02c", lw=1.1, drawstyle="steps-post",
                        label="walker to rear edge")
                if not seen.all():
                    ax.plot(rt[~seen], np.zeros(int((~seen).sum())), "|", color="#999999", ms=6,
                            label="nobody in the beam before the rear edge")
                margin = config.range.min_rear_margin_m
                ax.axhline(margin, color=THRESHOLD_COLOURS[0], ls="--", lw=1, label=f"drift trip below {margin:.2f} m")
                ax.set_ylabel("rear margin\n(m)")
            else:
                ax.plot(rt, rng, color="#2ca02c", lw=1.1, drawstyle="steps-post", label="range")
                ax.set_ylabel("range\n(m)")
            ax.legend(**LEGEND)

        warm_end = features.t_s[0] + config.motion.warmup_s if len(features.t_s) else None
        for i, ax in enumerate(axes):
            if trip is not None:
                ax.axvline(0.0, color=TRIP_COLOUR, lw=1.6)
            if warm_end is not None and warm_end > lo and 1 <= i <= len(FEATURES):  # the feature panels
                ax.axvspan(max(features.t_s[0], lo) - origin, warm_end - origin, color="#eeeeee", zorder=0)
        if warm_end is not None and warm_end > lo:
            axes[1].text(max(features.t_s[0], lo) - origin, 0.55, " detector\n warming up", va="center",
                         transform=axes[1].get_xaxis_transform(), fontsize=7.5, color="#777777")
        if trip is not None:
            top = axes[0]
            top.annotate(f"trip: {trip.label}", xy=(0.0, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(4, 2), textcoords="offset points", color=TRIP_COLOUR,
                         fontweight="bold", va="bottom", ha="left")
            axes[-1].set_xlabel("seconds from the trip (the red line)")
        else:
            axes[-1].set_xlabel("seconds from the start of the trace (no trip)")
        if title:
            fig.suptitle(title, fontsize=10)
        if note:
            fig.supxlabel(note, fontsize=7.5, color="#777777")
        if path.lower().endswith(".svg"):
            fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
        else:
            fig.savefig(path, format="png", metadata={"Software": None})


def _recorded(ax, feature, trip: TripMark | None, origin: float) -> None:
    """The daemon's own value at the moment it fired: the curve is recomputed from the trace
    alone, and on a trip record (a few seconds) its walker levels can differ."""
    if trip is None or not trip.values or feature.recorded_as not in trip.values:
        return
    value = trip.values[feature.recorded_as]
    if value is None:
        return
    when = trip.values_t_s if trip.values_t_s is not None else trip.t_s
    ax.plot([when - origin], [feature.sign * value], marker="X", ms=8, color=TRIP_COLOUR, ls="none",
            label=f"the daemon's value when it fired: {feature.sign * value:.2f}", zorder=5)
    ax.legend(**LEGEND)


def _score_limits(ax, y: np.ndarray, thresholds: list[float]) -> None:
    """A learned score's panel shows its threshold and at most SCORE_SPAN_LOGIT below it, so a
    score far under its threshold does not squash the part that matters."""
    top = max(thresholds)
    judged = y[np.isfinite(y)]
    high = max(top, float(judged.max())) if len(judged) else top
    low = min(thresholds) - SCORE_SPAN_LOGIT
    if len(judged) and float(judged.min()) > low:
        low = float(judged.min())
    ax.set_ylim(low - 0.5, high + 0.1 * (high - low) + 0.5)


def _thresholds(ax, feature, thresholds: dict[str, float]) -> None:
    for colour, (field, meaning) in zip(THRESHOLD_COLOURS, feature.thresholds):
        value = thresholds[field]
        ax.axhline(value, color=colour, ls="--", lw=1, label=f"{meaning} above {value:.4g}")
