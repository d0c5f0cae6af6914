"""Belt overspeed: the belt running faster than allowed for the walking direction.

Walking backwards the walker cannot see the console and steps are shorter, so
that direction has its own, lower limit. A reading over the limit must persist
for `confirm_s` before it trips, so one noisy reading does not stop the belt.
"""

from __future__ import annotations

from monitor.safety.verdict import OVERSPEED, Problem


class OverspeedCheck:
    def __init__(self, *, max_speed_mps: float, confirm_s: float) -> None:
        self.max_speed_mps = max_speed_mps
        self.confirm_s = confirm_s
        self.speed_mps = 0.0
        self._over_since_t_s: float | None = None

    def update(self, t_s: float, speed_mps: float) -> None:
        """One belt reading."""
        self.speed_mps = speed_mps
        if speed_mps > self.max_speed_mps:
            if self._over_since_t_s is None:
                self._over_since_t_s = t_s
        else:
            self._over_since_t_s = None

    def set_limit(self, t_s: float, max_speed_mps: float) -> None:
        """The limit for the direction the walker faces now; a lower one counts from now."""
        if max_speed_mps != self.max_speed_mps:
            self.max_speed_mps = max_speed_mps
            self.update(t_s, self.speed_mps)

    def check(self, now_s: float, problems: list[Problem]) -> None:
        if self._over_since_t_s is not None and now_s - self._over_since_t_s >= self.confirm_s:
            problems.append(Problem(OVERSPEED, "belt_overspeed", now_s, {
                "belt_mps": self.speed_mps,
                "max_speed_mps": self.max_speed_mps,
                "over_for_s": now_s - self._over_since_t_s,
            }))
