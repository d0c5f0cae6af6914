"""Times for samples from a device's own sample clock, kept on the monitor's clock.

A FIFO hands over samples without times. The chip takes them at its own rate,
so the n-th sample after a known point was taken n sample periods later: that
is how each sample is timed, with no jitter from when the loop happened to read.

The chip's oscillator is not the monitor's clock (datasheets allow a few
percent), so the count alone would drift. At every read the driver tells this
clock how many new samples there are and the monitor time `now_s` read right
*after* the FIFO count. The newest of them was then taken no later than now_s,
and no earlier than one sample period (plus a tolerance for the chip's rate
error and the bus time of the count read) before it. If the count-based time of
the newest sample falls outside that window it is moved to the nearest edge of
it: that is the re-anchoring. So:

* no sample is ever dropped or invented: a late loop tick just gets more
  samples, each one period apart;
* every time is within [now_s - period - tolerance, now_s] of the read that
  delivered it, so a sample is never dated in the future and never older than
  it is;
* times strictly increase: when re-anchoring moves the newest sample back (a
  chip running fast), the batch is spread evenly between the previous sample's
  time and the new newest time instead of overlapping the previous batch.
"""

from __future__ import annotations

# The chip's rate may differ from nominal by a few percent; reading the FIFO
# count takes a few hundred microseconds on the bus.
RATE_TOLERANCE = 0.05
READ_ALLOWANCE_S = 0.002
MIN_STEP_S = 1e-6  # times must increase even when the caller's clock did not move


class SampleClock:
    """Dates each sample n * period after an anchor, re-anchored to the monitor clock."""

    def __init__(self, period_s: float, start_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"sample period must be positive, not {period_s!r}")
        self.period_s = period_s
        self.tolerance_s = RATE_TOLERANCE * period_s + READ_ALLOWANCE_S
        self.last_t_s = start_s  # the time of the last sample handed out (or the anchor)
        self.reanchors = 0

    def restart(self, t_s: float) -> None:
        """The FIFO was emptied at t_s: the next sample comes one period later.
        Never moves time backwards."""
        self.last_t_s = max(self.last_t_s, t_s)

    def stamp(self, count: int, now_s: float) -> list[float]:
        """Times for `count` new samples counted just before monitor time now_s."""
        if count <= 0:
            return []
        period = self.period_s
        last = self.last_t_s
        predicted = last + count * period
        newest = min(max(predicted, now_s - period - self.tolerance_s), now_s)
        if newest != predicted:
            self.reanchors += 1
        newest = max(newest, last + count * MIN_STEP_S)
        first = newest - (count - 1) * period
        if first > last:
            times = [first + i * period for i in range(count)]
        else:
            step = (newest - last) / count
            times = [last + (i + 1) * step for i in range(count)]
        times[-1] = newest
        self.last_t_s = newest
        return times
