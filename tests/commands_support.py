"""Test support for the commands a person runs at the treadmill: a simulated clock
that lets the test's hardware act while the command waits, and a scripted person."""

from __future__ import annotations

from typing import Callable

from monitor.service.loop.clock import SimulatedClock
from tests.drivers_support import pulse


class ScriptedClock(SimulatedClock):
    """A SimulatedClock that calls its hooks each time the command waits (with the new time),
    so the hardware can act in simulated time: a belt turning, a relay contact following."""

    def __init__(self, start_s: float = 0.0) -> None:
        super().__init__(start_s)
        self.hooks: list[Callable[[float], None]] = []

    def sleep_until(self, t_s: float) -> None:
        super().sleep_until(t_s)
        for hook in list(self.hooks):
            hook(self.t_s)


class Person:
    """Answers prompts from a script of (words in the prompt, answer, action before answering)."""

    def __init__(self, *script: tuple) -> None:
        self.script = list(script)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        for i, entry in enumerate(self.script):
            words, answer = entry[0], entry[1]
            if words.lower() in prompt.lower():
                del self.script[i]
                if len(entry) > 2 and entry[2] is not None:
                    entry[2]()
                return answer
        raise AssertionError(f"unexpected prompt: {prompt!r}")


class TurningBelt:
    """A belt moved by hand: pulses on the sensor pin at a steady rate while it is turning,
    emitted as the clock passes their times."""

    def __init__(self, pin, clock: ScriptedClock, pulses_per_s: float) -> None:
        self.pin = pin
        self.clock = clock
        self.period_s = 1.0 / pulses_per_s
        self.next_s: float | None = None
        self.pulses = 0
        clock.hooks.append(self._run)

    def start(self) -> None:
        self.next_s = self.clock.t_s + self.period_s

    def stop(self) -> None:
        self.next_s = None

    def _run(self, now_s: float) -> None:
        while self.next_s is not None and self.next_s + 0.004 <= now_s:
            pulse(self.pin, self.clock, self.next_s)
            self.pulses += 1
            self.next_s += self.period_s
        self.clock.t_s = now_s

    def turn(self, pulses: int) -> None:
        """Pulses emitted at once (the person turns the belt while a prompt waits)."""
        t_s = self.clock.t_s
        for _ in range(pulses):
            t_s += self.period_s
            pulse(self.pin, self.clock, t_s)
            self.pulses += 1
        self.clock.t_s = t_s + 0.01


def pin_times(pin, created_s: float) -> list[tuple[float, bool]]:
    """A ClockedMockPin's state history as (absolute time, state), the pin made at created_s."""
    t_s = created_s
    history = []
    for change in pin.states:
        t_s += change.timestamp
        history.append((round(t_s, 9), bool(change.state)))
    return history
