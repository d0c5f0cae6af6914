"""Trip plots for the dashboard: the same figure as `treadguard trips show --plot`, as SVG.

Drawn with monitor.service.trips.trip_plot (matplotlib, the optional `plot` extra) from the
record's data file, once per record (records never change), into a cache folder the
bridge owns. Without that module or matplotlib the dashboard shows the explanation
and says why there is no plot.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from pathlib import Path

from monitor.bridge.trip_files import TripFile
from monitor.config.schema import Config


def plot_maker(config: Config, cache_dir: str):
    """A PlotMaker for the dashboard, or None when this installation cannot draw plots."""
    for module in ("matplotlib", "monitor.service.trips.trip_plot"):  # found, not imported: start-up stays light
        try:
            if importlib.util.find_spec(module) is None:
                return None
        except ImportError:
            return None
    lock = threading.Lock()  # one drawing at a time: matplotlib is slow on a Pi and not thread-safe

    def make(record: TripFile) -> tuple[str, bytes] | str:
        from monitor.formats.trace_format import TraceError
        from monitor.formats.trace_reader import read_trace
        from monitor.service.trips.trip_plot import PlotError, TripMark, plot_trace

        target = Path(cache_dir) / f"trip-{record.stamp}.svg"
        with lock:
            if not target.is_file():
                try:
                    trace = read_trace(str(record.data_path))
                    trip_t = record.explanation.get("t_s")
                    mark = None
                    if isinstance(trip_t, (int, float)) and math.isfinite(trip_t):
                        mark = TripMark(float(trip_t), f"{record.explanation.get('reason', '?')} "
                                                       f"({record.explanation.get('detail', '')})")
                    os.makedirs(cache_dir, exist_ok=True)
                    partial = target.with_suffix(".svg.tmp.svg")
                    plot_trace(trace, config, str(partial), trip=mark,
                               title=f"treadguard trip {record.stamp}, walking "
                                     f"{record.explanation.get('walking', '?')}")
                    os.replace(partial, target)
                except (TraceError, PlotError, OSError, ValueError) as err:
                    return f"the plot could not be drawn ({err})"
            return "image/svg+xml", target.read_bytes()
    return make
