"""`treadguard check`: find and test every configured device, and say what to fix.

Each device is opened and tested on its own, so a missing one does not hide the
others: the IMU (which chip, gravity at rest, the sample rate it really delivers),
the belt sensor (pulses while the person moves the belt by hand), the range sensor
(distances), and the relay (clicked only after the person confirms, its monitoring
contact read if one is configured; with the charge-pump drive, also that the
circuit drops the relay by itself when the toggling stops, with the pin left high
and then low, timed on the monitoring contact: later than 50 ms is a problem, and
without a monitoring contact the drop-out is not timed and the relay is NOT TESTED),
and the console's devices when configured (monitor/cli/check_console.py): the arm
button pressed and let go by hand, the light and the buzzer shown once the person
is watching. Each gets a verdict, OK or PROBLEM with what
was seen and what to check; the exit status is 1 if any device has a problem.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from drivers.console import ArmButton, ConsoleBuzzer, StatusLight
from monitor.cli.check_console import check_button, check_buzzer, check_light, open_console_device
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, report_config_error, said
from monitor.cli.devices import (
    STANDARD_GRAVITY_MPS2,
    Ask,
    CommandClock,
    DeviceUnavailable,
    GpioFactory,
    NoAnswer,
    asker,
    close_quietly,
    describe_health,
    is_yes,
    norm,
    open_one,
    record_imu,
    wait_reading,
)
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.service.loop.clock import MonotonicClock
from monitor.service.loop.stop_guard import protection

IMU_MEASURE_S = 1.0
GRAVITY_TOLERANCE = 0.05  # a still chip reads 1 g within its zero-g offset (up to ~8 % uncalibrated)
RATE_TOLERANCE = 0.10  # the chips' oscillators are good to a few percent
STILL_SPREAD_MPS2 = 0.3  # a larger spread of |a| means the clip moved while it was measured
BELT_COUNT_S = 3.0
RANGE_MEASURE_S = 2.0
RELAY_HOLD_S = 0.5
CHARGE_PUMP_DROP_S = 0.05  # the charge-pump circuit opens the relay within this of the last toggle
DROP_POLL_S = 0.001  # how often the drop-out is looked for on the monitoring contact
DROP_WATCH_S = 0.5  # a relay still energized this long after the last toggle does not drop out

OK = "OK"
PROBLEM = "PROBLEM"
NOT_TESTED = "NOT TESTED"


@dataclass
class Report:
    """One device's findings and verdict."""

    title: str
    out: TextIO
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    is_tested: bool = True

    @property
    def verdict(self) -> str:
        if self.problems:
            return PROBLEM
        return OK if self.is_tested else NOT_TESTED

    def found(self, line: str) -> None:
        """A finding, printed at once (the person sees progress between the prompts)."""
        self.lines.append(line)
        print(said(line, self.out, "   "), file=self.out, flush=True)

    def problem(self, line: str) -> None:
        self.problems.append(line)


def check_command(args: argparse.Namespace) -> int:
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as err:
            return report_config_error(err, "nothing was checked")
    else:
        config = Config()
        print(said("treadguard check: no --config given: checking the default parts and pins "
                   "(see `treadguard config --example`)", sys.stdout))
    return run_check(config)


def run_check(config: Config, *, ask: Ask = input, clock: CommandClock | None = None, i2c_bus: Any = None,
              pin_factory: Any = None, out: TextIO | None = None) -> int:
    """Check every configured device; print the findings; 0 when all are OK."""
    out = out or sys.stdout
    is_real_clock = clock is None
    clock = clock or MonotonicClock()
    ask = asker(ask)
    gpio = GpioFactory(pin_factory)
    def driver(section: str) -> tuple[str, Callable[[], Any]]:
        return (f"[{section}] driver = \"{getattr(config, section).driver}\"",
                lambda: open_one(config, section, clock, i2c_bus=i2c_bus, gpio=gpio))

    def console(setting: str, make: Callable[..., Any]) -> tuple[str, Callable[[], Any]]:
        return (f"[console] {setting}", lambda: open_console_device(make, config.console, gpio))

    checks = [("IMU", driver("imu"), _check_imu)]
    if config.belt.enabled:
        checks.append(("belt sensor", driver("belt"), _check_belt))
    if config.range.enabled:
        checks.append(("range sensor", driver("range"), _check_range))
    checks.append(("relay", driver("relay"), _check_relay))
    if config.console.button_enabled:
        checks.append(("arm button", console("button_enabled = true", ArmButton.from_config), check_button))
    if config.console.light != "none":
        checks.append(("status light", console(f"light = \"{config.console.light}\"", StatusLight.from_config),
                       check_light))
    if config.console.buzzer_enabled:
        checks.append(("buzzer", console("buzzer_enabled = true", ConsoleBuzzer.from_config), check_buzzer))
    reports = []
    try:
        for title, (source, opener), check in checks:
            report = Report(f"{title} ({source})", out)
            print(f"\n== {report.title}", file=out, flush=True)
            device = None
            try:
                device = opener()
                check(device, config, clock, ask, report, out)
            except DeviceUnavailable as err:
                report.problem(f"{err}")
            finally:
                close_quietly(device)
            _print_report(report, out)
            reports.append(report)
    except NoAnswer as err:
        return fail(f"{err}; the check stopped", EXIT_USAGE)
    _check_loop_timing(config, out, is_measured=is_real_clock)
    # What protects the walker if the monitor itself freezes, with this relay drive (README: "What happens when").
    print("\n" + textwrap.fill(f"If the monitor freezes: {protection(config)}", 80, subsequent_indent="   "),
          file=out)
    problems = [r for r in reports if r.problems]
    untested = [r for r in reports if r.verdict == NOT_TESTED]
    print("", file=out)
    if problems:
        print(f"treadguard check: {len(problems)} of {len(reports)} devices have a PROBLEM: "
              + ", ".join(r.title.split(" (")[0] for r in problems), file=out)
        return EXIT_FAILED
    note = f" ({len(untested)} not tested: " + ", ".join(r.title.split(" (")[0] for r in untested) + ")" \
        if untested else ""
    print(f"treadguard check: all {len(reports)} devices OK{note}", file=out)
    return EXIT_OK


def _print_report(report: Report, out: TextIO) -> None:
    if report.problems:
        for problem in report.problems:
            print(said(f"PROBLEM: {problem}", out, "   ", "         "), file=out)
    else:
        print(f"   {report.verdict}", file=out)


# -- the loop ---------------------------------------------------------------------------------
LOOP_MEASURE_S = 2.0


def _check_loop_timing(config: Config, out: TextIO, *, is_measured: bool) -> None:
    """The daemon loop run for a moment on this machine's real clock: what a tick costs here."""
    from monitor.service.loop.loop_timing import measure

    report = Report(f"loop timing (loop.rate_hz = {config.loop.rate_hz:g}, imu.sample_rate_hz = "
                    f"{config.imu.sample_rate_hz:g}, on fake devices)", out)
    print(f"\n== {report.title}", file=out, flush=True)
    if not is_measured:
        report.is_tested = False
        report.found("not measured: this check runs on a simulated clock")
    else:
        budget = measure(config, LOOP_MEASURE_S)
        for line in budget.describe().splitlines():
            report.found(line)
        summary = budget.summary()
        worst_s = summary["tick_wall_p999_s"] or 0.0
        # A measurement, not a verdict: a busy moment on the machine must not fail the check.
        if worst_s > budget.period_s / 2:
            report.found(f"WARNING: the slowest ticks took {worst_s * 1000:.1f} ms, more than half the "
                         f"{budget.period_s * 1000:.1f} ms period: lower loop.rate_hz or imu.sample_rate_hz, "
                         f"or stop other work on this Pi")
    _print_report(report, out)


# -- the IMU ---------------------------------------------------------------------------------
def _check_imu(imu: Any, config: Config, clock: CommandClock, ask: Ask, report: Report, out: TextIO) -> None:
    from monitor.config.bus_load import check_config

    report.found(f"found: {imu.chip} (WHO_AM_I 0x{imu.who_am_i:02X}) at I2C address 0x{imu.address:02X} "
                 f"on /dev/i2c-{config.imu.i2c_bus}")
    bus_load = check_config(config)
    if bus_load is not None:
        report.found(bus_load.describe())
        if bus_load.is_too_high:
            report.problem(bus_load.refusal())
    ask("Put the IMU clip down on a still surface (or hold it perfectly still), then press Enter: ")
    recording = record_imu(imu, clock, IMU_MEASURE_S)
    expected_hz = imu.sample_rate_hz
    if not recording.samples:
        report.problem(f"the chip answers but delivered no samples in {recording.elapsed_s:.1f} s"
                       + (f" ({describe_health(recording.health)})" if recording.health else "")
                       + ": check the 3.3 V supply and the cable; a clone may not run the FIFO "
                       "(try the other imu.driver if the board carries another chip)")
        return
    gravity = norm(recording.accel_mean_mps2)
    error = gravity / STANDARD_GRAVITY_MPS2 - 1.0
    spread = recording.accel_spread_mps2
    report.found(f"gravity at rest: {gravity:.2f} m/s² over {recording.elapsed_s:.1f} s "
                 f"({error * 100:+.1f} % from 9.81; within ±{GRAVITY_TOLERANCE * 100:.0f} % is OK), "
                 f"spread {spread:.3f} m/s²")
    gyro = norm(recording.gyro_mean_radps)
    report.found(f"gyro at rest: {gyro:.3f} rad/s ({gyro * 57.29578:.2f} deg/s; `treadguard calibrate` "
                 f"measures and removes this offset)")
    rate = recording.rate_hz
    report.found(f"sample rate delivered: {rate:.1f} Hz ({len(recording.samples)} samples; "
                 f"the chip was set to {expected_hz:g} Hz)")
    if recording.health:
        report.problem(f"trouble while reading: {describe_health(recording.health)}: check the cable "
                       "(length, connectors, twisted pairs), the 3.3 V supply and the I2C pull-ups")
    if spread > STILL_SPREAD_MPS2:
        report.problem(f"the clip moved while it was measured (spread {spread:.2f} m/s²): put it down "
                       "on something still and run the check again")
    elif abs(error) > GRAVITY_TOLERANCE:
        part_hint = (f" (a chip answering 0x6C: check that imu.part, now \"{config.imu.part}\", is the part "
                     "printed on it: an LSM6DSO32 read as an LSM6DSOX shows half of 9.81)"
                     if getattr(imu, "who_am_i", None) == 0x6C else "")
        report.problem(f"gravity reads {gravity:.2f} m/s², more than {GRAVITY_TOLERANCE * 100:.0f} % from 9.81: "
                       "check imu.accel_full_scale_g and that the board carries the chip the driver "
                       f"says{part_hint}; run `treadguard calibrate` to measure the offset; a chip this far off "
                       "may be faulty")
    if abs(rate / expected_hz - 1.0) > RATE_TOLERANCE:
        report.problem(f"the chip delivered {rate:.1f} Hz, not the {expected_hz:g} Hz it was set to: "
                       "samples are lost or the chip's clock is off; check the cable and the bus "
                       "speed (100 kHz or more)")


# -- the belt sensor --------------------------------------------------------------------------
def _check_belt(belt: Any, config: Config, clock: CommandClock, ask: Ask, report: Report, out: TextIO) -> None:
    pin = config.belt.pin
    report.found(f"opened on GPIO {pin}")
    ask(f"With the treadmill stopped and unplugged (or its safety key out), start moving the belt "
        f"by hand, then press Enter, and keep it moving for {BELT_COUNT_S:g} s: ")
    pulses_0, bounces_0, implausible_0 = belt.pulses, belt.bounces, belt.implausible_pulses
    speeds = [r.speed_mps for r in wait_reading(clock, BELT_COUNT_S, belt.read)]
    print("   ... you can stop moving the belt.", file=out)
    pulses = belt.pulses - pulses_0
    bounces = belt.bounces - bounces_0
    implausible = belt.implausible_pulses - implausible_0
    ppm = config.belt.pulses_per_m
    average = pulses / ppm / BELT_COUNT_S
    report.found(f"{pulses} pulses in {BELT_COUNT_S:g} s: {pulses / ppm:.2f} m of belt, {average:.2f} m/s "
                 f"on average at belt.pulses_per_m = {ppm:g}; fastest reading {max(speeds, default=0.0):.2f} m/s")
    if bounces or implausible:
        report.found(f"{bounces} edges ignored as bounce, {implausible} pulses dropped as implausible")
    if pulses == 0:
        report.problem(f"no pulses from GPIO {pin} while the belt moved: check the sensor's output wire "
                       f"(to GPIO {pin}), its supply (3.3 V) and ground, its gap to the magnet or mark "
                       "on the roller, and belt.pin")
    elif bounces > pulses:
        report.problem(f"more bounces ({bounces}) than pulses ({pulses}): the signal is noisy; route the "
                       "sensor cable away from the motor wires, use a shielded or twisted cable, or "
                       "raise belt.debounce_s")


# -- the range sensor -------------------------------------------------------------------------
def _check_range(sensor: Any, config: Config, clock: CommandClock, ask: Ask, report: Report,
                 out: TextIO) -> None:
    rng = config.range
    report.found(f"opened on TRIG GPIO {rng.trigger_pin}, ECHO GPIO {rng.echo_pin}")
    ask("Stand on the belt where you walk (or hold a board there, at waist height), then press Enter: ")
    distances = [r.distance_m for r in wait_reading(clock, RANGE_MEASURE_S, sensor.read)]
    if not distances:
        report.problem(f"no readings in {RANGE_MEASURE_S:g} s: check TRIG (GPIO {rng.trigger_pin}), ECHO "
                       f"(GPIO {rng.echo_pin}, through the 5 V to 3.3 V divider), the sensor's 5 V and GND")
        return
    report.found(f"{len(distances)} readings in {RANGE_MEASURE_S:g} s: nearest {min(distances):.2f} m, "
                 f"median {statistics.median(distances):.2f} m, farthest {max(distances):.2f} m "
                 f"(rear edge at {rng.rear_edge_m:g} m)")
    median = statistics.median(distances)
    if median >= rng.max_distance_m * 0.99:
        report.problem(f"no echo within range.max_distance_m ({rng.max_distance_m:g} m): the sensor sees "
                       "nothing; aim it at the walker's waist, and check ECHO's divider")
    elif median >= rng.rear_edge_m:
        report.problem(f"the median reading {median:.2f} m is beyond the rear edge ({rng.rear_edge_m:g} m): "
                       "the sensor does not see you; aim it at the walker's waist, or check "
                       "range.rear_edge_m")


# -- the relay ---------------------------------------------------------------------------------
def _check_relay(relay: Any, config: Config, clock: CommandClock, ask: Ask, report: Report, out: TextIO) -> None:
    cfg = config.relay
    level = "high" if cfg.active_high else "low"
    has_feedback = bool(getattr(relay, "has_feedback", False))
    how = "energized while it toggles: charge-pump drive" if cfg.drive == "charge_pump" else f"energized when {level}"
    report.found(f"opened on GPIO {cfg.pin} ({how}), released"
                 + (f"; monitoring contact on GPIO {cfg.feedback_pin}" if has_feedback else
                    "; no monitoring contact configured"))
    print("   The relay test closes the relay's contacts for a moment: the same as putting\n"
          "   the safety key in. STOP THE BELT AND UNPLUG THE TREADMILL (or take its safety\n"
          "   key out) first.", file=out)
    answer = ask("Is the belt stopped and the treadmill unplugged? Type yes to click the relay, "
                 "anything else to skip: ")
    if not is_yes(answer):
        report.found("the relay was not clicked (skipped at the prompt)")
        report.is_tested = False
        return
    if cfg.drive == "charge_pump":
        _check_charge_pump(relay, config, clock, ask, report, has_feedback)
        return
    settle_s = cfg.feedback_settle_s
    seen = []

    def look(state: str) -> None:
        clock.sleep_until(clock.now() + 2 * settle_s)
        if has_feedback:
            closed = relay.is_feedback_closed
            seen.append((state, closed, relay.is_feedback_ok))
            report.found(f"{state}: monitoring contact {'closed' if closed else 'open'}"
                         + ("" if relay.is_feedback_ok else " (disagrees with the command)"))

    look("released")
    try:
        relay.energize()
        clock.sleep_until(clock.now() + RELAY_HOLD_S)
        look("energized")
    except OSError as err:
        report.problem(f"the relay could not be energized ({err}): check that no other program "
                       f"(the treadguard service?) holds GPIO {cfg.pin}")
    finally:
        relay.release()
    look("released again")
    clicked = ask("Did you hear the relay click on and off (and see its LED light)? [y/n]: ")
    if not is_yes(clicked):
        report.problem(f"the relay did not click: check the module's VCC (5 V) and GND, the wire from "
                       f"GPIO {cfg.pin} to IN, and relay.active_high (the module's trigger level, "
                       "often a jumper H/L)")
    bad = [state for state, _closed, ok in seen if not ok]
    if bad:
        report.problem(f"the monitoring contact disagreed with the command when {', '.join(bad)}: "
                       f"check the wire from the contact to GPIO {cfg.feedback_pin} and GND, and "
                       "relay.feedback_closed_when_energized; if it never changes, the relay may be "
                       "welded or its coil dead: replace it")


def _check_charge_pump(relay: Any, config: Config, clock: CommandClock, ask: Ask, report: Report,
                       has_feedback: bool) -> None:
    """Toggle as the loop does, then stop with the pin left high, then again left low: the
    circuit must hold the relay while the toggles come and drop it by itself when they stop,
    within CHARGE_PUMP_DROP_S of the last toggle, timed on the monitoring contact."""
    cfg = config.relay
    period_s = 1.0 / config.loop.rate_hz
    toggles = max(2, round(RELAY_HOLD_S / period_s)) // 2 * 2  # even: ends where it started
    not_held, not_dropped, late = [], [], []

    def released() -> bool | None:
        closed = relay.is_feedback_closed
        return None if closed is None else closed != cfg.feedback_closed_when_energized

    def drop_out_s(last_toggle_s: float) -> float | None:
        """Seconds from the last toggle until the monitoring contact shows the relay released
        (polled every DROP_POLL_S, so the figure is at most one poll late), None if it never does."""
        while clock.now() - last_toggle_s < DROP_WATCH_S:
            clock.sleep_until(clock.now() + DROP_POLL_S)
            if released():
                return clock.now() - last_toggle_s
        return None

    def run(count: int, left: str) -> None:
        last_toggle_s = clock.now()
        for i in range(count):
            if i:
                clock.sleep_until(last_toggle_s + period_s)
            if i == count - 1 and has_feedback and released():  # held until the last toggle?
                not_held.append(f"the monitoring contact showed the relay released while the pin toggled "
                                f"(the run that left the pin {left})")
            relay.energize()  # one toggle, as one healthy tick
            last_toggle_s = clock.now()
        if not has_feedback:
            clock.sleep_until(last_toggle_s + CHARGE_PUMP_DROP_S + cfg.feedback_settle_s)
            return
        dropped_s = drop_out_s(last_toggle_s)
        if dropped_s is None:
            not_dropped.append(f"the relay stayed energized {DROP_WATCH_S * 1000:.0f} ms after the toggling "
                               f"stopped with the pin {left}")
            return
        report.found(f"toggling stopped with the pin {left}: the monitoring contact shows the relay "
                     f"released {dropped_s * 1000:.0f} ms after the last toggle (at most "
                     f"{CHARGE_PUMP_DROP_S * 1000:.0f} ms is OK)")
        if dropped_s > CHARGE_PUMP_DROP_S:
            late.append(f"with the pin {left}, the relay dropped {dropped_s * 1000:.0f} ms after the last "
                        f"toggle, later than the {CHARGE_PUMP_DROP_S * 1000:.0f} ms the charge-pump drive "
                        "promises")

    report.found(f"charge-pump drive: toggling GPIO {cfg.pin} at {config.loop.rate_hz:g} Hz for "
                 f"{toggles * period_s:.1f} s, then stopping with the pin left high, then left low")
    try:
        relay.release()
        run(toggles + 1, "high")  # an odd count from low ends high
        relay.release()
        run(toggles, "low")
    except OSError as err:
        report.problem(f"the relay pin could not be toggled ({err}): check that no other program "
                       f"(the treadguard service?) holds GPIO {cfg.pin}")
    finally:
        relay.release()
    if not has_feedback:
        report.found("the drop-out time was not measured: that needs a force-guided relay's monitoring "
                     "contact (relay.feedback_pin), and no ear tells 40 from 70 ms; until it is measured "
                     "the relay counts as NOT TESTED")
        report.is_tested = False
    held = ask("Did the relay click on twice (its LED lit while the pin toggled)? [y/n]: ")
    if not is_yes(held):
        not_held.append("the person heard the relay not pull in while the pin toggled")
    dropped = ask("Did it click off by itself each time, a moment after the toggling stopped? [y/n]: ")
    if not is_yes(dropped):
        not_dropped.append("the person heard no drop-out when the toggling stopped")
    for line in not_held:
        report.problem(f"{line}: the charge-pump circuit does not hold the relay; check the 74HC423's "
                       "3.3 V and GND, its CLR pins (R15 to 3.3 V: held low, CLR keeps the outputs off), "
                       "R6/C1 and R7/C2, the diodes D2/D3 and R8 to Q1's base, and that "
                       f"loop.rate_hz ({config.loop.rate_hz:g} Hz) is one the circuit holds at (see wiring/README.md)")
    for line in late:
        report.problem(f"{line}: a frozen Pi would keep the belt running that long; check that C1 and C2 are "
                       "1 uF (a 2.2 uF capacitor drops at about 74 ms) and R6/R7 56 kOhm, and the relay's "
                       "release time (a flyback diode slows it: 1N4148 only, no capacitor across the coil)")
    for line in not_dropped:
        report.problem(f"{line}: the circuit does not drop out by itself, so a frozen Pi would keep the "
                       "belt running; check that nothing but the 74HC423's Q outputs drives Q1's base, that "
                       "C1/C2 are 1 uF (not larger), and that IN is not wired straight to the relay; until it "
                       "drops out, do not rely on relay.drive = \"charge_pump\"")
