"""Prints how far real recordings stay from every sensor-plausibility limit, over whole traces.

    python bench/plausibility_margins.py [FOLDER ...]   (default: ../shared/data/*)

Each trace's samples go through the core's own checks (GravityBand,
ChannelLiveness, FailedReadRate at the default settings) from the first sample
to the last, trips or not, and the script prints the extremes seen: the lowest
and highest window mean of the acceleration magnitude, the longest run of one
repeated value on a channel while another changed, the longest all-zero gyro
run, and every plausibility problem raised (there must be none).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config  # noqa: E402
from monitor.formats.trace_reader import read_trace  # noqa: E402
from monitor.safety.health import CHANNELS, ChannelLiveness, GravityBand  # noqa: E402


def main(folders: list[str]) -> int:
    imu = Config().imu
    paths = sorted(p for folder in folders for p in Path(folder).glob("*.csv*"))
    lowest = (math.inf, "")
    highest = (-math.inf, "")
    longest_run = (0.0, "", "")
    problems = []
    for path in paths:
        trace = read_trace(path)
        # a band that never fires, to see every window's mean
        band = GravityBand(window_s=imu.gravity_window_s, low_mps2=math.inf, high_mps2=-math.inf,
                           hole_s=imu.timeout_s)
        real_band = GravityBand(window_s=imu.gravity_window_s, low_mps2=imu.gravity_min_mps2,
                                high_mps2=imu.gravity_max_mps2, hole_s=imu.timeout_s)
        live = ChannelLiveness(stuck_s=imu.channel_stuck_s, gyro_zero_s=imu.gyro_zero_s)
        probe = ChannelLiveness(stuck_s=0.0, gyro_zero_s=math.inf)  # reports every repeat's length
        rows = zip(trace.t_s.tolist(), trace.accel_mps2.tolist(), trace.gyro_radps.tolist())
        for t_s, a, g in rows:
            values = (*a, *g)
            if not all(map(math.isfinite, values)):
                continue
            seen = band.add(t_s, *a)
            if seen is not None:
                mean = seen.values["mean_accel_mps2"]
                lowest = min(lowest, (mean, path.name))
                highest = max(highest, (mean, path.name))
            for check in (real_band.add(t_s, *a), live.add(t_s, values)):
                if check is not None:
                    problems.append((path.name, t_s, check.describe()))
            repeat = probe.add(t_s, values)
            if repeat is not None and repeat.values["unchanged_s"] > longest_run[0]:
                channel = next(k for k in repeat.values if k in CHANNELS)
                longest_run = (repeat.values["unchanged_s"], channel, path.name)
    print(f"{len(paths)} traces")
    print(f"window mean |a| ({imu.gravity_window_s:g} s windows): lowest {lowest[0]:.2f} m/s² ({lowest[1]}), "
          f"highest {highest[0]:.2f} m/s² ({highest[1]}); band {imu.gravity_min_mps2:g} to "
          f"{imu.gravity_max_mps2:g} m/s²")
    print(f"longest run of one value on a channel while another changed: {longest_run[0]:.3f} s "
          f"({longest_run[1]}, {longest_run[2]}); limit {imu.channel_stuck_s:g} s")
    print(f"plausibility problems raised: {len(problems)}")
    for name, t_s, text in problems[:20]:
        print(f"  {name} at {t_s:.3f} s: {text}")
    return 1 if problems else 0


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[1]
    default = [str(p) for p in sorted((here.parent / "shared" / "data").glob("*")) if p.is_dir()]
    sys.exit(main(sys.argv[1:] or default))
