"""The scenario library: named walks on the treadmill, with and without hazards.

Each scenario is a walker (facing the console or the rear, at a speed or a
speed profile) and at most one event at a set time. Hazards are what a monitor
must stop the belt for: stumbles, falls, being carried back, drifting back,
leaving the belt, losing the clip, and a monitor gone blind (sensor faults).
Normal sessions are what it must never stop: long steady walks and jogs, speed
changes, standing on the side rails, standing still before walking or jogging
(on the belt as it starts under them, or on the rails before stepping on),
breaking from a walk into a jog, and the end of a session (the walker slows the
belt to a stop and stands).

Most scenarios are run as treadguard is fitted on the bench treadmill (IMU, belt
sensor, range sensor); those marked `range_sensor=False` run without the range
sensor, so drift is judged from the IMU and the belt speed alone (stopped
stepping).

Speeds of the hazards are those at which stopping the belt can still save the
walker on a 1.4 m deck braking at 1 m/s² (see README, "what no monitor can do").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

NORMAL = "none"
START = "stand_start"  # stands still stand_s, then walks: a normal session
END = "session_end"  # at onset_s the walker slows the belt to a stop and stands: a normal session
TURN = "turn"  # half turns at turns_s on the moving belt: a normal session
TURN_STANDING = "turn_standing"  # stands on the stopped belt and turns round at turns_s: normal
TOO_FAST = "too_fast"  # a backward walker starts the belt above their comfortable speed and falls after a while
NOT_HAZARDS = (NORMAL, "rails", START, END, TURN, TURN_STANDING)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    event: str
    walking: str = "forward"
    speed_kmh: float = 4.0
    onset_s: float = 20.0
    duration_s: float = 30.0
    profile_kmh: tuple[tuple[float, float], ...] = ()  # (t_s, km/h) points; overrides speed_kmh
    seed: int = 0
    range_sensor: bool = True  # False: treadguard without a range sensor (IMU and belt speed only)
    stand_s: float = 0.0  # stands still this long first: on a stopped belt, or on the rails (stand_on)
    stand_on: str = "belt"  # "belt": the belt starts under them at stand_s; "rails": it runs, they step on
    ceiling_mps: float | None = None  # the walker's backward ceiling at the start; None: a practised backward
    # walker, whose ceiling has reached the fixed backward limit
    turns_s: tuple[float, ...] = ()  # half turns starting at these times (TURN, TURN_STANDING)
    comfortable_kmh: float = 2.0  # TOO_FAST: above this the walker's balance worsens...
    unsteady_s: float = 10.0  # ...and after this long above it they fall

    @property
    def hazard(self) -> bool:
        """Must the belt stop? A monitor that has gone blind is a hazard too."""
        return self.event not in NOT_HAZARDS

    @property
    def speed_mps(self) -> float:
        return self.speed_kmh / 3.6


def _s(name: str, summary: str, event: str, **kw) -> Scenario:
    """A scenario seeded from its name, so every run of it is the same."""
    return Scenario(name, summary, event, seed=sum(ord(c) * 31 ** i for i, c in enumerate(name)) % 2**31, **kw)


TEN_MIN = 600.0

LIBRARY: tuple[Scenario, ...] = (
    # -- stumbles, walking forward and backward, slow and fast, and jogging
    _s("stumble-fwd-2kmh", "a foot catches at 2 km/h; the walker recovers", "stumble", speed_kmh=2.0),
    _s("stumble-fwd-6kmh", "a foot catches at 6 km/h; the walker recovers", "stumble", speed_kmh=6.0),
    _s("stumble-jog-9kmh", "a stumble while jogging at 9 km/h, recovered", "stumble", speed_kmh=9.0),
    _s("stumble-bwd-1kmh", "walking backwards at 1 km/h, a heel catches; recovered", "stumble",
       walking="backward", speed_kmh=1.0),
    _s("stumble-bwd-4kmh", "walking backwards at 4 km/h, a heel catches; recovered", "stumble",
       walking="backward", speed_kmh=4.0),
    # -- falls
    _s("trip-fall-fwd-4kmh", "trips and falls forward toward the console at 4 km/h", "trip", speed_kmh=4.0),
    _s("fall-fwd-2kmh", "falls forward toward the console at 2 km/h", "fall_forward", speed_kmh=2.0),
    _s("fall-fwd-4kmh", "falls forward toward the console at 4 km/h", "fall_forward", speed_kmh=4.0),
    _s("slip-fall-bwd-1.5kmh", "slips and falls backward toward the rear at 1.5 km/h", "slip", speed_kmh=1.5),
    _s("fall-backward-fwd-1.5kmh", "faints backward toward the rear at 1.5 km/h", "fall_backward", speed_kmh=1.5),
    _s("fall-sideways-fwd-3kmh", "falls sideways at 3 km/h", "fall_sideways", speed_kmh=3.0),
    _s("fall-toward-rear-bwd-1kmh", "walking backwards at 1 km/h, falls forward toward the rear",
       "fall_forward", walking="backward", speed_kmh=1.0),
    _s("fall-toward-console-bwd-3kmh", "walking backwards at 3 km/h, falls backward toward the console",
       "fall_backward", walking="backward", speed_kmh=3.0),
    _s("fall-sideways-bwd-2kmh", "walking backwards at 2 km/h, falls sideways", "fall_sideways",
       walking="backward", speed_kmh=2.0),
    _s("slip-fall-bwd-walker-2kmh", "walking backwards at 2 km/h, slips and falls toward the console", "slip",
       walking="backward", speed_kmh=2.0),
    # -- carried back, drifting back, leaving the belt
    _s("stop-carried-fwd-1kmh", "stops walking at 1 km/h and is carried back", "stop", speed_kmh=1.0),
    _s("stop-carried-fwd-3kmh", "stops walking at 3 km/h and is carried back", "stop", speed_kmh=3.0),
    _s("stop-carried-bwd-1kmh", "walking backwards at 1 km/h, stops and is carried back", "stop",
       walking="backward", speed_kmh=1.0),
    _s("stop-carried-bwd-2.5kmh", "walking backwards at 2.5 km/h, stops and is carried back", "stop",
       walking="backward", speed_kmh=2.5),
    _s("drift-fwd-5kmh", "steps a little slower than the belt at 5 km/h and drifts back", "drift",
       speed_kmh=5.0, duration_s=40.0),
    _s("drift-bwd-2kmh", "walking backwards at 2 km/h, drifts back", "drift", walking="backward",
       speed_kmh=2.0, duration_s=40.0),
    _s("step-off-side-fwd-4kmh", "steps off to the side and leaves the belt running", "step_off", speed_kmh=4.0),
    # -- the clip and the sensors
    _s("clip-pulled-fwd-4kmh", "the IMU clip is pulled off the waist at 4 km/h", "clip_off", speed_kmh=4.0),
    _s("clip-pulled-bwd-2kmh", "walking backwards, the IMU clip is pulled off", "clip_off",
       walking="backward", speed_kmh=2.0),
    _s("i2c-errors-fwd-5kmh", "bursts of I2C errors on the IMU cable", "i2c_errors", speed_kmh=5.0),
    _s("imu-frozen-fwd-5kmh", "the IMU freezes at one value", "imu_frozen", speed_kmh=5.0),
    _s("belt-sensor-lost-fwd-5kmh", "the belt-speed sensor stops answering", "belt_lost", speed_kmh=5.0),
    _s("range-sensor-lost-fwd-5kmh", "the range sensor stops answering", "range_lost", speed_kmh=5.0),
    # -- normal sessions: nothing may trip
    _s("walk-fwd-1kmh-10min", "ten minutes of very slow walking", NORMAL, speed_kmh=1.0, duration_s=TEN_MIN),
    _s("walk-fwd-4kmh-10min", "ten minutes of steady walking", NORMAL, speed_kmh=4.0, duration_s=TEN_MIN),
    _s("walk-fwd-6kmh-10min", "ten minutes of brisk walking", NORMAL, speed_kmh=6.0, duration_s=TEN_MIN),
    _s("jog-9kmh-10min", "ten minutes of jogging", NORMAL, speed_kmh=9.0, duration_s=TEN_MIN),
    _s("jog-11kmh-10min", "ten minutes of faster jogging", NORMAL, speed_kmh=11.0, duration_s=TEN_MIN),
    _s("walk-bwd-2kmh-10min", "ten minutes walking backwards", NORMAL, walking="backward", speed_kmh=2.0,
       duration_s=TEN_MIN),
    _s("walk-bwd-5kmh-10min", "ten minutes walking backwards, briskly", NORMAL, walking="backward",
       speed_kmh=5.0, duration_s=TEN_MIN),
    _s("speed-changes-fwd-12min", "warm-up, brisk walk, jog, cool-down", NORMAL, duration_s=720.0,
       profile_kmh=((0, 2.0), (120, 2.0), (130, 5.0), (300, 5.0), (310, 9.0), (480, 9.0), (490, 6.0),
                    (600, 6.0), (610, 3.0), (720, 3.0))),
    _s("speed-changes-bwd-10min", "walking backwards, speeds 1 to 5 km/h", NORMAL, walking="backward",
       duration_s=TEN_MIN, profile_kmh=((0, 1.0), (120, 1.0), (130, 3.0), (300, 3.0), (310, 5.0),
                                        (450, 5.0), (460, 2.0), (600, 2.0))),
    _s("side-rails-fwd-4kmh", "steps onto the side rails for a minute, belt running, then walks on", "rails",
       speed_kmh=4.0, onset_s=60.0, duration_s=180.0),
    # -- standing still first, breaking into a jog, the end of a session
    _s("stand-belt-then-walk-fwd-4kmh", "stands 10 s on the stopped belt, it starts under them, walks", START,
       speed_kmh=4.0, stand_s=10.0, duration_s=60.0),
    _s("stand-rails-then-walk-bwd-2kmh", "walking backwards: stands 8 s on the rails, belt running, steps on",
       START, walking="backward", speed_kmh=2.0, stand_s=8.0, stand_on="rails", duration_s=60.0),
    _s("stand-belt-then-jog-fwd-9kmh", "stands 15 s on the stopped belt, it speeds up to a jog under them",
       START, speed_kmh=9.0, stand_s=15.0, duration_s=60.0),
    _s("stand-rails-then-jog-fwd-8kmh", "stands 5 s on the rails, belt running at 8 km/h, steps on and jogs",
       START, speed_kmh=8.0, stand_s=5.0, stand_on="rails", duration_s=45.0),
    _s("walk-then-jog-fwd", "walks at 5 km/h, then breaks into a jog at 9 km/h", NORMAL, duration_s=90.0,
       profile_kmh=((0, 5.0), (40, 5.0), (48, 9.0), (90, 9.0))),
    _s("session-end-fwd-5kmh", "walks at 5 km/h, slows the belt to a stop and stands", END, speed_kmh=5.0,
       onset_s=40.0, duration_s=55.0),
    _s("session-end-bwd-3kmh", "walking backwards at 3 km/h, slows the belt to a stop and stands", END,
       walking="backward", speed_kmh=3.0, onset_s=40.0, duration_s=55.0),
    # -- without a range sensor: drift from the IMU and the belt speed alone
    _s("stand-belt-then-walk-bwd-2kmh-imu", "no range sensor; walking backwards: stands 12 s on the stopped "
       "belt, it starts under them", START, walking="backward", speed_kmh=2.0, stand_s=12.0, duration_s=60.0,
       range_sensor=False),
    _s("stand-belt-then-walk-fwd-3kmh-imu", "no range sensor: stands 6 s on the stopped belt, it starts under "
       "them, walks slowly", START, speed_kmh=3.0, stand_s=6.0, duration_s=60.0, range_sensor=False),
    _s("walk-then-jog-fwd-imu", "no range sensor: walks at 5 km/h, then breaks into a jog at 9 km/h", NORMAL,
       duration_s=90.0, profile_kmh=((0, 5.0), (40, 5.0), (48, 9.0), (90, 9.0)), range_sensor=False),
    _s("walk-fwd-1.5kmh-10min-imu", "no range sensor: ten minutes of very slow walking", NORMAL, speed_kmh=1.5,
       duration_s=TEN_MIN, range_sensor=False),
    _s("session-end-fwd-4kmh-imu", "no range sensor: walks at 4 km/h, slows the belt to a stop and stands", END,
       speed_kmh=4.0, onset_s=40.0, duration_s=55.0, range_sensor=False),
    _s("session-end-bwd-2kmh-imu", "no range sensor; walking backwards at 2 km/h, slows the belt to a stop and "
       "stands", END, walking="backward", speed_kmh=2.0, onset_s=40.0, duration_s=55.0, range_sensor=False),
    _s("stop-carried-fwd-2kmh-imu", "no range sensor: stops walking at 2 km/h and is carried back", "stop",
       speed_kmh=2.0, range_sensor=False),
    _s("stop-carried-bwd-1.5kmh-imu", "no range sensor; walking backwards at 1.5 km/h, stops and is carried "
       "back", "stop", walking="backward", speed_kmh=1.5, range_sensor=False),
    # -- turning round: the monitor follows the walker, not the config
    _s("turn-fwd-to-bwd-1kmh", "walks forward at 1 km/h, turns round on the moving belt, walks backwards", TURN,
       speed_kmh=1.0, turns_s=(20.0,), duration_s=45.0),
    _s("turn-fwd-to-bwd-4kmh", "walks forward at 4 km/h, turns round on the moving belt, walks backwards", TURN,
       speed_kmh=4.0, turns_s=(20.0,), duration_s=45.0),
    _s("turn-bwd-to-fwd-2kmh", "walks backwards at 2 km/h, turns round to face the console", TURN,
       walking="backward", speed_kmh=2.0, turns_s=(20.0,), duration_s=45.0),
    _s("turn-twice-3kmh", "warms up forward at 3 km/h, turns, walks backwards, turns back", TURN, speed_kmh=3.0,
       turns_s=(30.0, 90.0), duration_s=120.0),
    _s("turn-standing", "stands on the stopped belt and turns round on the spot", TURN_STANDING, speed_kmh=0.0,
       turns_s=(10.0,), duration_s=30.0),
    _s("walk-fwd-auto-4kmh-10min", "ten minutes of walking forward, session.walking auto: never called backward",
       NORMAL, walking="auto", speed_kmh=4.0, duration_s=TEN_MIN),
    # -- start slow: a new backward walker (ceiling 0.5 m/s) who starts too fast
    _s("too-fast-bwd-new-walker", "a new backward walker runs the belt up to 4 km/h; above 2.2 km/h their "
       "balance worsens and after 10 s there they fall", TOO_FAST, walking="backward",
       profile_kmh=((0.0, 0.0), (5.0, 4.0), (60.0, 4.0)), duration_s=40.0, ceiling_mps=0.5,
       comfortable_kmh=2.2),
)

BY_NAME = {s.name: s for s in LIBRARY}


def unknown_scenario_message(name: str) -> str:
    """"no scenario named X, did you mean Y?" (difflib's closest names), and where the list is."""
    close = difflib.get_close_matches(name, BY_NAME, n=3, cutoff=0.6)
    others = f" (or {', '.join(close[1:])})" if len(close) > 1 else ""
    guess = f", did you mean {close[0]}{others}?" if close else ""
    return f"no scenario named {name}{guess} (`treadguard bench --list` shows them all)"
