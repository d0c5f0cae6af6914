"""Done when: the arm button, the status light and the buzzer are real gpiozero devices on
MockFactory pins. A person holds the button and the daemon arms, or refuses (with the refusal
sound) while a check fails; a stuck button arms nothing; the buzzer's beeps come faster as the
walker drifts into the warning zone, before the trip, which comes exactly when it would without
them; each state of the light has its own pattern."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading

import pytest

from drivers.console import ArmButton, ConsoleBuzzer, StatusLight
from drivers.fake import FakeImu, FakeRangeSensor, FakeRelay
from monitor.cli import run as run_module
from monitor.cli.main import main
from monitor.config.load import ConfigError, parse_config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.outputs import console as console_module
from monitor.service.outputs.console import (
    ARMED_SOUND,
    REFUSED_SOUND,
    RGB_PATTERNS,
    SINGLE_PATTERNS,
    TRIP_SOUND,
    WARNING_SOUNDS,
    BuzzerPlan,
    Console,
    LightState,
    warning_level,
)
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050
from tests.support import IDENTITY_MOUNT, standing, with_settings

BUTTON_PIN, RED_PIN, GREEN_PIN, BLUE_PIN, BUZZER_PIN = 5, 16, 20, 21, 12

CONFIG = """\
[imu]
driver = "mpu6050"
mount = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]

[belt]
enabled = false

[relay]
driver = "gpio"
pin = 17

[console]
button_enabled = true
light = "rgb"
buzzer_enabled = true
"""


@pytest.fixture
def folder():
    path = tempfile.mkdtemp(prefix="tg-")  # short: the status socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sounds(console) -> list[str]:
    return [value.name for _, kind, value in console.history if kind == "sound"]


def run_at_the_treadmill(folder, monkeypatch, person, *, until_s, clock=None, start_s=100.0):
    """`treadguard run --config FILE` on a fake bus and mock pins; `person(verdict, core, pins, bus)`
    acts at each tick. Returns what was seen, the console and the pins."""
    path = os.path.join(folder, "treadguard.toml")
    with open(path, "w") as f:
        f.write(CONFIG + f'\n[record]\ntrip_dir = "{folder}/trips"\n'
                         f'[status]\nsocket_path = "{folder}/status.sock"\n')
    clock = clock or SimulatedClock(start_s)
    bus = FakeMpu6050(clock)
    factory = clocked_factory(clock)
    pins = {n: factory.pin(n) for n in (17, BUTTON_PIN, RED_PIN, GREEN_PIN, BLUE_PIN, BUZZER_PIN)}
    opened = []
    real_open = console_module.open_console
    monkeypatch.setattr(console_module, "open_console",
                        lambda *a, **k: opened.append(real_open(*a, **k)) or opened[-1])
    seen = []

    def hook(verdict, core):
        seen.append((verdict.t_s, verdict.state, pins[17].state))
        person(verdict, core, pins, bus)

    monkeypatch.setattr(run_module, "run_hardware", functools.partial(
        run_module.run_hardware, clock=clock, i2c_bus=bus, pin_factory=factory, until_s=until_s, on_tick=hook))
    assert main(["run", "--config", path]) == 0
    return seen, opened[0], pins


def test_holding_the_arm_button_for_a_second_arms_the_daemon(folder, monkeypatch, capsys):
    def person(verdict, core, pins, bus):
        if abs(verdict.t_s - 103.0) < 1e-6:  # the light shows "ready" by now
            pins[BUTTON_PIN].drive_low()  # pressed: the button connects the pin to GND
        if abs(verdict.t_s - 104.5) < 1e-6:
            pins[BUTTON_PIN].drive_high()

    seen, console, pins = run_at_the_treadmill(folder, monkeypatch, person, until_s=105.0)
    armed = [t for t, state, _ in seen if state is LatchState.ARMED]
    # pressed after the tick at 103.00, seen at 103.01, held a second at 104.01, judged at the next tick
    assert armed[0] == pytest.approx(104.02)
    assert all(relay for t, _, relay in seen if t >= armed[0]) and not any(r for t, _, r in seen if t < armed[0])
    assert sounds(console) == ["armed"] and console.armings == 1
    assert "armed at the console's request" in capsys.readouterr().err
    lights = [value.name for _, kind, value in console.history if kind == "light"]
    assert lights == ["starting: short blue flashes", "ready: steady blue", "armed: steady green"]
    # the real RGB LED was driven: green lit (armed), red never; all dark once the daemon stopped
    assert any(change.state for change in pins[GREEN_PIN].states)
    assert not any(change.state for change in pins[RED_PIN].states)
    assert not any(pins[n].state for n in (RED_PIN, GREEN_PIN, BLUE_PIN))


def test_a_short_press_arms_nothing(folder, monkeypatch):
    def person(verdict, core, pins, bus):
        if abs(verdict.t_s - 101.0) < 1e-6:
            pins[BUTTON_PIN].drive_low()
        if abs(verdict.t_s - 101.9) < 1e-6:
            pins[BUTTON_PIN].drive_high()

    seen, console, _ = run_at_the_treadmill(folder, monkeypatch, person, until_s=103.0)
    assert all(state is LatchState.UNARMED for _, state, _ in seen) and sounds(console) == []


def test_the_button_is_refused_while_a_check_fails_with_the_refusal_sound(folder, monkeypatch, capsys):
    snapshots = []

    def person(verdict, core, pins, bus):
        if abs(verdict.t_s - 100.5) < 1e-6:
            bus.unplug()  # the IMU's cable is out
        if abs(verdict.t_s - 101.0) < 1e-6:
            pins[BUTTON_PIN].drive_low()
        if abs(verdict.t_s - 102.5) < 1e-6:
            pins[BUTTON_PIN].drive_high()
        if abs(verdict.t_s - 102.8) < 1e-6:
            snapshots.append(console_status[0]())

    console_status = []
    real_start = console_module.Console.status

    def grab(self):
        return real_start(self)
    monkeypatch.setattr(console_module.Console, "status", grab)
    original_init = console_module.Console.__init__

    def init(self, *a, **k):
        original_init(self, *a, **k)
        console_status.append(self.status)
    monkeypatch.setattr(console_module.Console, "__init__", init)

    seen, console, pins = run_at_the_treadmill(folder, monkeypatch, person, until_s=103.0)
    assert not any(relay for _, _, relay in seen)  # the relay never closed
    assert [state for t, state, _ in seen if t > 102.01][0] is LatchState.TRIPPED  # a refused arm latches
    assert sounds(console) == ["refused"] and console.refusals == 1 and console.armings == 0
    assert "imu" in console.refused
    err = capsys.readouterr().err
    assert "arming refused: sensor_fault (imu_" in err and "hold the arm button again" in err
    assert snapshots[0]["console"]["refused"].startswith("sensor_fault (imu_")
    assert snapshots[0]["console"]["light"] == "tripped"


def test_a_button_pressed_at_start_is_stuck_arms_nothing_until_released(folder, monkeypatch, capsys):
    class HeldButton(ArmButton):
        """Something leans on the button as the daemon starts: pressed from the moment it is opened."""

        def __init__(self, pin, **kwargs):
            super().__init__(pin, **kwargs)
            self._button.pin.drive_low()

    monkeypatch.setattr(console_module, "ArmButton", HeldButton)

    def person(verdict, core, pins, bus):
        if abs(verdict.t_s - 113.0) < 1e-6:
            pins[BUTTON_PIN].drive_high()  # freed
        if abs(verdict.t_s - 114.0) < 1e-6:
            pins[BUTTON_PIN].drive_low()  # and a real press
        if abs(verdict.t_s - 115.5) < 1e-6:
            pins[BUTTON_PIN].drive_high()

    seen, console, _ = run_at_the_treadmill(folder, monkeypatch, person, until_s=116.0)
    armed = [t for t, s, _ in seen if s is LatchState.ARMED]
    assert armed[0] == pytest.approx(115.02)  # only after release and a new 1 s press
    assert sounds(console) == ["refused", "armed"]  # the stuck button was announced at once
    lights = [value.name for t, kind, value in console.history if kind == "light"]
    assert "fault: slow yellow blink" in lights  # unarmed with a stuck button: the fault pattern
    err = capsys.readouterr().err
    assert "the arm button is stuck" in err and "arms nothing until released" in err


def test_a_button_held_past_ten_seconds_while_armed_is_reported_but_does_not_stop_the_belt():
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    daemon, console, pins = console_daemon(clock, factory)

    def person(verdict, core):
        console.on_tick(verdict, core)
        console.worker.drain()
        if abs(verdict.t_s - 1.0) < 1e-6:
            pins[BUTTON_PIN].drive_low()
        if abs(verdict.t_s - 14.0) < 1e-6:
            pins[BUTTON_PIN].drive_high()

    daemon.on_tick = person
    stats = daemon.run(until_s=15.0)
    assert stats.first_trip is None and stats.last.state is LatchState.ARMED
    assert sounds(console) == ["armed", "refused"]  # armed at 2 s; "stuck" announced past 12 s
    assert console.button_state.state.value == "released" and console.refused is None  # freed at 14 s
    console.close()


def console_daemon(clock, factory, config=None, *, range_readings=None, light="rgb"):
    config = config or with_settings(console={"button_enabled": True, "light": light, "buzzer_enabled": True})
    imu = FakeImu(clock, standing(0.0, 60.0, 200.0))
    devices = Devices(imu=imu, relay=FakeRelay(clock),
                      range_sensor=None if range_readings is None else FakeRangeSensor(clock, range_readings))
    core = SafetyCore(config, start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False,
                      has_range=range_readings is not None)
    pins = {n: factory.pin(n) for n in (BUTTON_PIN, RED_PIN, GREEN_PIN, BLUE_PIN, BUZZER_PIN)}
    console = console_module.open_console(config, pin_factory=factory, clock=clock, core=core, threaded=False,
                                          say=lambda line: None)
    return Daemon(core, devices, clock), console, pins


# -- the drift pre-warning ---------------------------------------------------------------------
def drifting_walker(t_s: float) -> float:
    """Distance from the console: steady at 0.7 m, then carried back at 0.1 m/s from 2 s."""
    return 0.7 + max(0.0, t_s - 2.0) * 0.1


def drift_run(with_console: bool):
    config = with_settings(range={"enabled": True, "warning_zone_m": 0.25},
                           console={"buzzer_enabled": True})
    readings = [(k * 0.05, drifting_walker(k * 0.05)) for k in range(200)]
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    daemon, console, _ = console_daemon(clock, factory, config, range_readings=readings)
    applied = []

    def hook(verdict, core):
        if with_console:
            console.on_tick(verdict, core)
            console.worker.drain()  # the console's thread, run here so the test sees each step
            if not applied or applied[-1][1] != console.buzzer.sound:
                applied.append((verdict.t_s, console.buzzer.sound))  # what the real Buzzer was told

    daemon.on_tick = hook
    stats = daemon.run(until_s=8.0, arm_at_start=True)
    console.close()
    return stats, applied


def test_the_buzzer_beeps_faster_as_the_walker_drifts_into_the_warning_zone_before_the_trip():
    stats, applied = drift_run(True)
    trip_s = stats.first_trip.t_s
    assert stats.first_trip.trip.detail == "near_rear_edge"
    warnings = [(t, s) for t, s in applied if s.name.startswith("drift warning")]
    assert [s.name for _, s in warnings] == [s.name for s in WARNING_SOUNDS]  # 1/4, 2/4, 3/4, 4/4 in turn
    rates = [1.0 / (s.on_s + s.off_s) for _, s in warnings]
    assert rates == sorted(rates) and rates[-1] > 4 * rates[0]  # beeps per second rise through the zone
    assert all(t < trip_s for t, _ in warnings)  # every step of the warning came before the belt stopped
    # the zone begins at a margin of 0.5 + 0.25 m: 0.85 m from the console, reached at 3.5 s
    assert warnings[0][0] == pytest.approx(3.5, abs=0.06)
    assert applied[-1][1] == TRIP_SOUND and applied[-1][0] == trip_s  # and the trip has its own sound


def test_the_warning_never_delays_the_trip():
    with_warning, _ = drift_run(True)
    without, _ = drift_run(False)
    assert with_warning.first_trip.t_s == without.first_trip.t_s
    assert with_warning.first_trip.trip.problems == without.first_trip.trip.problems


def test_a_bench_walker_drifting_back_hears_the_warning_speed_up_before_the_trip():
    from monitor.sim.run import bench_config, build, run_treadguard
    from monitor.sim.scenarios import BY_NAME

    scenario = BY_NAME["drift-fwd-5kmh"]
    config = bench_config(scenario.walking)
    clock = SimulatedClock(0.0)
    buzzer = ConsoleBuzzer(BUZZER_PIN, pin_factory=clocked_factory(clock))
    console = Console(config, buzzer=buzzer, threaded=False, say=lambda line: None)
    heard, trip = [], []

    def hook(verdict, core):
        console.on_tick(verdict, core)
        console.worker.drain()
        if not heard or heard[-1][1] != buzzer.sound.name:
            heard.append((verdict.t_s, buzzer.sound.name))
        if verdict.is_new_trip and not trip:
            trip.append(verdict.t_s)

    outcome = run_treadguard(build(scenario), clock=clock, on_tick=hook)
    console.close()
    assert outcome.tripped and outcome.reason == "drift/near_rear_edge"
    levels = [int(name.split()[-1].split("/")[0]) for t, name in heard
              if name.startswith("drift warning") and t < trip[0]]
    assert levels[:1] == [1] and max(levels) >= 3 and levels == sorted(levels)
    assert heard[-1][1] == "trip"


@pytest.mark.parametrize("margin_m,level", [
    (0.80, 0), (0.7501, 0), (0.7499, 1), (0.6876, 1), (0.6874, 2), (0.6251, 2), (0.6249, 3),
    (0.5626, 3), (0.5624, 4), (0.50, 4), (0.30, 4), (None, 0)])
def test_warning_levels_at_each_edge(margin_m, level):
    assert warning_level(margin_m, min_margin_m=0.5, zone_m=0.25) == level


def test_a_warning_level_falls_back_only_past_its_hysteresis_and_zero_zone_is_off():
    assert warning_level(0.69, min_margin_m=0.5, zone_m=0.25, previous=2) == 2  # 0.0025 m back out: held
    assert warning_level(0.71, min_margin_m=0.5, zone_m=0.25, previous=2) == 1  # 0.0225 m out: falls
    assert warning_level(0.76, min_margin_m=0.5, zone_m=0.25, previous=1) == 1  # just out of the zone: held
    assert warning_level(0.78, min_margin_m=0.5, zone_m=0.25, previous=1) == 0
    assert warning_level(0.55, min_margin_m=0.5, zone_m=0.0) == 0
    assert warning_level(float("nan"), min_margin_m=0.5, zone_m=0.25) == 0


def test_a_counted_sound_plays_to_its_end_before_the_warning_takes_over():
    plan = BuzzerPlan()
    assert plan.update(0.0, event=ARMED_SOUND, repeating=WARNING_SOUNDS[0]) == ARMED_SOUND
    assert plan.update(0.05, event=None, repeating=WARNING_SOUNDS[0]) is None  # the 0.1 s beep plays on
    assert plan.update(0.1, event=None, repeating=WARNING_SOUNDS[0]) == WARNING_SOUNDS[0]
    assert plan.update(0.2, event=None, repeating=WARNING_SOUNDS[0]) is None  # unchanged: nothing sent
    assert REFUSED_SOUND.duration_s == pytest.approx(0.5) and WARNING_SOUNDS[0].duration_s == float("inf")


# -- the light -----------------------------------------------------------------------------------
def wait_for_changes(pin, count: int, timeout_s: float = 3.0) -> bool:
    """Wait (bounded) until gpiozero's blink thread has changed the pin `count` times."""
    done = threading.Event()
    start = len(pin.states)
    for _ in range(int(timeout_s / 0.005)):
        if len(pin.states) - start >= count:
            return True
        done.wait(0.005)
    return False


def test_each_state_has_its_own_rhythm_and_colour():
    single = {(p.on_s if p.off_s else 0.0, p.off_s) for p in SINGLE_PATTERNS.values()}
    assert len(single) == len(LightState)  # one LED: every state by its rhythm alone
    rgb = {(p.color, p.on_s if p.off_s else 0.0, p.off_s) for p in RGB_PATTERNS.values()}
    assert len(rgb) == len(LightState)
    blinking = [p for p in RGB_PATTERNS.values() if p.off_s]  # only ready and armed are steady,
    assert len({(p.on_s, p.off_s) for p in blinking}) == len(blinking) == 3  # and they differ in colour
    assert RGB_PATTERNS[LightState.ARMED].color != RGB_PATTERNS[LightState.READY].color


def test_the_light_shows_starting_ready_armed_tripped_and_fault_on_mock_pins():
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    daemon, console, pins = console_daemon(clock, factory)
    daemon.devices.imu.fail_reads(5.0, 5.05)  # a trip while armed
    shown = {}

    def hook(verdict, core):
        console.on_tick(verdict, core)
        console.worker.drain()
        t = round(verdict.t_s, 2)
        if t in (1.0, 3.0, 4.0, 6.0):
            shown[t] = (console.light.pattern.name, pins[RED_PIN].state, pins[GREEN_PIN].state,
                        pins[BLUE_PIN].state)
        if t == 3.5:
            core.request_reset()

    daemon.on_tick = hook
    daemon.run(until_s=6.0)
    assert shown[1.0][0] == "starting: short blue flashes"
    assert shown[3.0] == ("ready: steady blue", False, False, True)
    assert shown[4.0] == ("armed: steady green", False, True, False)
    assert shown[6.0][0] == "tripped: fast red blink"
    console.close()

    # unarmed with a problem: the IMU went quiet
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    daemon, console, pins = console_daemon(clock, factory)
    daemon.devices.imu.go_silent(2.5)
    daemon.on_tick = lambda v, c: (console.on_tick(v, c), console.worker.drain())
    daemon.run(until_s=4.0)
    assert console.light.pattern.name == "fault: slow yellow blink"
    green_before = len(pins[GREEN_PIN].states)
    assert wait_for_changes(pins[RED_PIN], 2) and len(pins[GREEN_PIN].states) > green_before  # really blinking
    assert pins[BLUE_PIN].state is False
    console.close()


def test_a_single_led_blinks_fast_when_tripped():
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    daemon, console, pins = console_daemon(clock, factory, light="single")
    daemon.devices.imu.fail_reads(3.0, 3.05)
    daemon.on_tick = lambda v, c: (console.on_tick(v, c), console.worker.drain())
    daemon.run(until_s=4.0, arm_at_start=True)
    assert console.light.pattern.name == "tripped: fast blink" and not console.light.is_rgb
    assert wait_for_changes(pins[GREEN_PIN], 3)
    console.close()
    console.close()  # safe twice


# -- devices and config --------------------------------------------------------------------------
def test_the_arm_button_reads_a_press_on_its_mock_pin():
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    button = ArmButton(BUTTON_PIN, pin_factory=factory)
    assert button.is_pressed is False  # the pull-up holds it high
    factory.pin(BUTTON_PIN).drive_low()
    assert button.is_pressed is True
    button.close()
    button.close()
    with pytest.raises(OSError):
        button.is_pressed


def test_a_busy_console_pin_fails_the_start_and_releases_the_relay(folder, monkeypatch, capsys):
    path = os.path.join(folder, "treadguard.toml")
    with open(path, "w") as f:
        f.write(CONFIG + f'\n[record]\ntrip_dir = "{folder}/trips"\n')
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    holder = StatusLight(green_pin=GREEN_PIN, pin_factory=factory)  # another program holds GPIO 20
    code = run_module.run_hardware(parse_config_file(path), clock=clock, i2c_bus=FakeMpu6050(clock),
                                   pin_factory=factory, until_s=1.0)
    assert code == 1
    err = capsys.readouterr().err
    assert "[console] a device could not be opened" in err and "the relay stays released" in err
    assert factory.pin(17).state is False
    holder.close()


def parse_config_file(path):
    from monitor.config.load import load_config
    return load_config(path)


def test_console_pins_are_checked_against_the_others():
    with pytest.raises(ConfigError) as err:
        parse_config({"console": {"button_enabled": True, "button_pin": 17, "light": "rgb", "light_red_pin": 27,
                                  "buzzer_enabled": True, "button_hold_s": 3.0, "button_stuck_s": 3.0}})
    text = "\n".join(err.value.problems)
    assert "console.button_pin (17) is already used by relay.pin" in text
    assert "console.light_red_pin (27) is already used by belt.pin" in text
    assert "console.button_stuck_s (3) must be longer than console.button_hold_s (3)" in text


@pytest.mark.parametrize("zone_m,ok", [(0.8, True), (0.81, False)])
def test_the_warning_zone_must_not_reach_the_walker(zone_m, ok):
    data = {"range": {"enabled": True, "warning_zone_m": zone_m}}  # rear edge 1.6 m, trip margin 0.5 m
    if ok:
        assert parse_config(data).range.warning_zone_m == zone_m
    else:
        with pytest.raises(ConfigError, match="range.warning_zone_m .* reaches too far forward"):
            parse_config(data)


def test_without_console_devices_nothing_is_opened():
    assert console_module.open_console(with_settings(), pin_factory=None) is None


def test_sigusr1_still_arms_with_a_console_with_the_same_sounds(folder, monkeypatch):
    """A local administrator's signal is refused while the IMU is unplugged (three quick beeps at
    the treadmill), and arms once it is back (one beep)."""
    import signal

    def person(verdict, core, pins, bus):
        t = round(verdict.t_s, 2)
        if t == 100.3:
            bus.unplug()
        if t == 100.5:
            os.kill(os.getpid(), signal.SIGUSR1)  # refused: the IMU is out
        if t == 100.7:
            bus.replug()
        if t == 101.5:
            os.kill(os.getpid(), signal.SIGUSR1)

    seen, console, pins = run_at_the_treadmill(folder, monkeypatch, person, until_s=102.0)
    armed = [t for t, s, _ in seen if s is LatchState.ARMED]
    assert armed and armed[0] == pytest.approx(101.51)
    assert [s for t, s, _ in seen if round(t, 2) == 100.51] == [LatchState.TRIPPED]
    assert sounds(console) == ["refused", "armed"] and console.refusals == 1


def _bench_heard(name: str):
    from monitor.sim.run import bench_config, build, run_treadguard
    from monitor.sim.scenarios import BY_NAME

    scenario = BY_NAME[name]
    clock = SimulatedClock(0.0)
    buzzer = ConsoleBuzzer(BUZZER_PIN, pin_factory=clocked_factory(clock))
    console = Console(bench_config(scenario.walking), buzzer=buzzer, threaded=False, say=lambda line: None)
    heard = []

    def hook(verdict, core):
        console.on_tick(verdict, core)
        console.worker.drain()
        if not heard or heard[-1][1] != buzzer.sound.name:
            heard.append((verdict.t_s, buzzer.sound.name))

    run_treadguard(build(scenario), clock=clock, on_tick=hook)
    console.close()
    return heard


def test_above_the_backward_ceiling_long_even_beeps_come_before_the_stop():
    from monitor.service.outputs.console import CEILING_WARNING_SOUND

    heard = _bench_heard("too-fast-bwd-new-walker")
    names = [n for _, n in heard]
    assert CEILING_WARNING_SOUND.name in names and names[-1] == TRIP_SOUND.name
    warned = next(t for t, n in heard if n == CEILING_WARNING_SOUND.name)
    stopped = heard[-1][0]
    assert stopped - warned == pytest.approx(5.0, abs=0.05)  # beeping for the 5 s before the stop
    assert CEILING_WARNING_SOUND.on_s > 4 * WARNING_SOUNDS[0].on_s  # unlike the drift warning's ticks


def test_a_turn_is_confirmed_by_two_short_beeps():
    from monitor.service.outputs.console import DIRECTION_SOUND

    heard = _bench_heard("turn-fwd-to-bwd-4kmh")
    (t,) = [t for t, n in heard if n == DIRECTION_SOUND.name]
    assert 21.0 < t < 22.5 and DIRECTION_SOUND.count == 2  # the turn ends at 21.8 s


def test_a_turn_flickers_the_light_for_a_second_then_it_shows_armed_again():
    from monitor.service.outputs.console import DIRECTION_FLASH_S, DIRECTION_LIGHT
    from monitor.sim.run import bench_config, build, run_treadguard
    from monitor.sim.scenarios import BY_NAME

    scenario = BY_NAME["turn-fwd-to-bwd-4kmh"]
    clock = SimulatedClock(0.0)
    light = StatusLight(red_pin=RED_PIN, green_pin=GREEN_PIN, blue_pin=BLUE_PIN, pin_factory=clocked_factory(clock))
    console = Console(bench_config(scenario.walking), light=light, threaded=False, say=lambda line: None)
    shown = []

    def hook(verdict, core):
        console.on_tick(verdict, core)
        console.worker.drain()
        if not shown or shown[-1][1] != light.pattern.name:
            shown.append((verdict.t_s, light.pattern.name))

    run_treadguard(build(scenario), clock=clock, on_tick=hook)
    console.close()
    (flash,) = [k for k, (_, name) in enumerate(shown) if name == DIRECTION_LIGHT.name]
    assert 21.0 < shown[flash][0] < 22.5
    after_t, after = shown[flash + 1]
    assert after == RGB_PATTERNS[LightState.ARMED].name
    assert after_t - shown[flash][0] == pytest.approx(DIRECTION_FLASH_S, abs=0.02)
