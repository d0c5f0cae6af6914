"""The charge-pump relay drive: the real GpioRelay's pin history on MockFactory, fed through a
simulation of the circuit in wiring/ (two 74HC423 monostables, their RC timing and retrigger
time from the netlist's values, a diode OR, the relay's operate and release times). The relay must hold
while the loop ticks and drop within 50 ms of the last toggle, whatever level the pin is
left at."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from drivers.gpio_relay import GpioRelay
from monitor.config.load import ConfigError, parse_config
from monitor.service.loop.clock import SimulatedClock
from tests.commands_support import pin_times
from tests.drivers_support import clocked_factory

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wiring"))
import netlist  # noqa: E402

PIN = 17
T0 = 10.0
STEP_S = 1e-4  # the simulation's time step


class Monostable:
    """One half of a 74HC423: a trigger resets its timing capacitor and sets Q; Q falls when the
    capacitor, charging through Rext, reaches the level that makes tW = K * Rext * Cext. A trigger
    sooner than the retrigger time after the last one that counted is ignored."""

    def __init__(self, k: float, r_ohms: float, c_farads: float, retrigger_s: float = 0.0) -> None:
        self.tau_s = r_ohms * c_farads
        self.end_fraction = 1.0 - math.exp(-k)  # the comparator's level as a fraction of VCC
        self.v_fraction = 1.0  # quiescent: Cext fully charged
        self.is_q = False
        self.retrigger_s = retrigger_s
        self.since_trigger_s = math.inf
        self.ignored = 0

    def trigger(self) -> None:
        if self.since_trigger_s < self.retrigger_s:
            self.ignored += 1
            return
        self.since_trigger_s = 0.0
        self.v_fraction = 0.0
        self.is_q = True

    def step(self, dt_s: float) -> None:
        self.since_trigger_s += dt_s
        self.v_fraction += (1.0 - self.v_fraction) * (1.0 - math.exp(-dt_s / self.tau_s))
        if self.is_q and self.v_fraction >= self.end_fraction:
            self.is_q = False


RETRIGGER_S = 1.5 * netlist.retrigger_time_s()  # the data sheet's figure is at 5 V; slower at 3.3 V


def simulate(history: list[tuple[float, bool]], until_s: float, k: float,
             r_ohms: float = netlist.TIMING_R_OHMS, c_farads: float = netlist.TIMING_C_FARADS,
             retrigger_s: float = RETRIGGER_S):
    """The relay contact's state over time, as (t, closed) changes, from the pin's (t, level) history."""
    rise, fall = Monostable(k, r_ohms, c_farads, retrigger_s), Monostable(k, r_ohms, c_farads, retrigger_s)
    level = history[0][1]
    edges = list(history[1:])
    coil_changed_s, is_coil, is_closed = history[0][0], False, False
    changes = []
    t = history[0][0]
    while t < until_s:
        while edges and edges[0][0] <= t:
            _, new = edges.pop(0)
            if new and not level:
                rise.trigger()  # half 1: B rising, A low
            elif level and not new:
                fall.trigger()  # half 2: A falling, B high
            level = new
        rise.step(STEP_S)
        fall.step(STEP_S)
        coil = rise.is_q or fall.is_q  # the diode OR into the NPN's base
        if coil != is_coil:
            is_coil, coil_changed_s = coil, t
        settle = netlist.RELAY_OPERATE_S if is_coil else netlist.RELAY_RELEASE_S
        if is_closed != is_coil and t - coil_changed_s >= settle:
            is_closed = is_coil
            changes.append((round(t, 6), is_closed))
        t += STEP_S
    return changes


# K with the R and C tolerances folded in
SHORTEST_K = netlist.K_MIN * (1 - netlist.TIMING_R_TOLERANCE) * (1 - netlist.TIMING_C_TOLERANCE)
LONGEST_K = netlist.K_MAX * (1 + netlist.TIMING_R_TOLERANCE) * (1 + netlist.TIMING_C_TOLERANCE)


def _relay(clock):
    factory = clocked_factory(clock)
    relay = GpioRelay(PIN, clock, drive="charge_pump", pin_factory=factory)
    return relay, factory.pin(PIN)


def _tick(relay, clock, rate_hz, seconds, *, start_s=None):
    """The loop: one energize() per healthy tick."""
    t = clock.t_s if start_s is None else start_s
    for i in range(round(seconds * rate_hz)):
        clock.t_s = t + i / rate_hz
        relay.energize()
    return clock.t_s  # the last toggle


def _closed_intervals(changes, until_s):
    out, opened = [], None
    for t, closed in changes:
        if closed:
            opened = t
        else:
            out.append((opened, t))
            opened = None
    if opened is not None:
        out.append((opened, until_s))
    return out


@pytest.mark.parametrize("k", [SHORTEST_K, LONGEST_K], ids=["shortest-pulse", "longest-pulse"])
@pytest.mark.parametrize("rate_hz", [netlist.CHARGE_PUMP_MIN_LOOP_HZ, 100.0, 250.0, 1000.0])
def test_the_relay_holds_while_the_loop_ticks_and_drops_within_50_ms_of_the_last_toggle(rate_hz, k):
    clock = SimulatedClock(T0)
    relay, pin = _relay(clock)
    last_s = _tick(relay, clock, rate_hz, 1.0, start_s=T0 + 0.1)
    history = pin_times(pin, created_s=T0)
    changes = simulate(history, last_s + 0.2, k)
    intervals = _closed_intervals(changes, last_s + 0.2)
    assert len(intervals) == 1, f"the relay chattered: {changes}"
    closed_s, opened_s = intervals[0]
    assert closed_s <= T0 + 0.1 + netlist.RELAY_OPERATE_S + 0.001  # pulled in at the first toggle
    assert opened_s > last_s  # held through every tick
    assert opened_s - last_s <= netlist.MAX_DROP_OUT_S  # and open within 50 ms of the last one
    relay.close()


@pytest.mark.parametrize("stuck_high", [True, False])
def test_a_pin_stuck_at_either_level_drops_the_relay(stuck_high):
    clock = SimulatedClock(T0)
    relay, pin = _relay(clock)
    ticks = 100 if not stuck_high else 101  # an odd number of toggles leaves the pin high
    last_s = _tick(relay, clock, 100.0, ticks / 100.0, start_s=T0 + 0.1)
    assert pin.state is stuck_high  # the process froze here: nothing more happens on the pin
    changes = simulate(pin_times(pin, created_s=T0), last_s + 1.0, LONGEST_K)
    assert changes[-1][1] is False and changes[-1][0] - last_s <= netlist.MAX_DROP_OUT_S
    relay.close()


def test_release_and_close_hold_the_pin_low_and_the_relay_drops():
    clock = SimulatedClock(T0)
    relay, pin = _relay(clock)
    last_s = _tick(relay, clock, 100.0, 0.51, start_s=T0 + 0.1)  # 51 toggles: left high
    clock.t_s = last_s + 0.005
    relay.release()  # a trip: one more edge (high to low), then nothing
    assert pin.state is False and not relay.is_energized
    changes = simulate(pin_times(pin, created_s=T0), last_s + 0.5, LONGEST_K)
    assert changes[-1][1] is False and changes[-1][0] - clock.t_s <= netlist.MAX_DROP_OUT_S
    relay.close()
    assert pin.function == "input"  # let go: the 10 kOhm pull-down holds it low, no edge


def test_a_loop_stall_longer_than_the_pulse_drops_the_relay_in_hardware():
    clock = SimulatedClock(T0)
    relay, pin = _relay(clock)
    last_s = _tick(relay, clock, 100.0, 0.5, start_s=T0 + 0.1)
    _tick(relay, clock, 100.0, 0.5, start_s=last_s + 0.060)  # 60 ms without a tick, then on again
    changes = simulate(pin_times(pin, created_s=T0), clock.t_s + 0.2, LONGEST_K)
    first_open = next(t for t, closed in changes if not closed)
    assert last_s < first_open <= last_s + netlist.MAX_DROP_OUT_S


def test_the_charge_pump_drive_toggles_once_per_energize_and_level_drive_holds():
    clock = SimulatedClock(T0)
    relay, pin = _relay(clock)
    levels = []
    for i in range(4):
        clock.t_s = T0 + 0.01 * (i + 1)
        relay.energize()
        levels.append(pin.state)
    assert levels == [True, False, True, False] and relay.is_energized
    relay.close()
    factory = clocked_factory(clock)
    level_relay = GpioRelay(PIN, clock, pin_factory=factory)
    level_relay.energize()
    level_relay.energize()
    assert factory.pin(PIN).state is True
    level_relay.close()


def test_the_charge_pump_drive_refuses_an_active_low_relay():
    with pytest.raises(ValueError, match="active_high"):
        GpioRelay(PIN, SimulatedClock(), drive="charge_pump", active_high=False,
                  pin_factory=clocked_factory(SimulatedClock()))


def test_the_component_values_keep_the_promises():
    shortest_s, longest_s = netlist.pulse_width_range_s()
    assert longest_s + netlist.RELAY_RELEASE_S <= netlist.MAX_DROP_OUT_S  # drop-out within 50 ms
    assert 1.0 / netlist.CHARGE_PUMP_MIN_LOOP_HZ <= shortest_s / netlist.HOLD_MARGIN  # hold with margin
    assert shortest_s == pytest.approx(SHORTEST_K * netlist.TIMING_R_OHMS * netlist.TIMING_C_FARADS)
    assert longest_s == pytest.approx(LONGEST_K * netlist.TIMING_R_OHMS * netlist.TIMING_C_FARADS)


@pytest.mark.parametrize("rate_hz,is_ok", [(netlist.CHARGE_PUMP_MIN_LOOP_HZ, True),
                                           (netlist.CHARGE_PUMP_MIN_LOOP_HZ - 0.5, False)])
def test_the_config_refuses_a_loop_too_slow_for_the_charge_pump(rate_hz, is_ok):
    data = {"loop": {"rate_hz": rate_hz}, "relay": {"drive": "charge_pump"}}
    if is_ok:
        assert parse_config(data).relay.drive == "charge_pump"
    else:
        with pytest.raises(ConfigError, match=r"relay.drive.*loop.rate_hz.*80"):
            parse_config(data)


def test_the_config_refuses_an_active_low_charge_pump_and_defaults_to_level():
    assert parse_config({}).relay.drive == "level"
    with pytest.raises(ConfigError, match="active_high"):
        parse_config({"relay": {"drive": "charge_pump", "active_high": False}})


def test_the_retrigger_time_is_the_data_sheets_formula_and_at_1000_hz_the_pulse_still_holds():
    # 30 + 0.19 * 56 * 1e6^0.9 + 13 * 56^1.05 ns: about 2.7 ms, not microseconds
    assert netlist.retrigger_time_s() == pytest.approx(2.67e-3, rel=0.01)
    clock = SimulatedClock(T0)
    relay, pin = _relay(clock)
    last_s = _tick(relay, clock, 1000.0, 0.5, start_s=T0 + 0.1)  # one half's edges 2 ms apart
    rise = Monostable(SHORTEST_K, netlist.TIMING_R_OHMS, netlist.TIMING_C_FARADS, RETRIGGER_S)
    history = pin_times(pin, created_s=T0)
    changes = simulate(history, last_s + 0.2, SHORTEST_K)
    assert len(_closed_intervals(changes, last_s + 0.2)) == 1  # ignored retriggers do not let it drop
    level, t = False, T0
    for edge_s, new in history[1:]:  # the rising half alone, to count what it ignored
        while t < edge_s:
            rise.step(STEP_S)
            t += STEP_S
        if new and not level:
            rise.trigger()
        level = new
    assert rise.ignored > 0  # the retrigger time mattered here
    relay.close()


def test_the_charge_pump_is_held_reset_at_power_up_by_a_part_its_clear_cannot_trigger():
    u1 = next(p for p in netlist.CHARGE_PUMP if p.ref == "U1")
    assert u1.value == "74HC423"  # the 74HC123 fires half 2 on a rising CLR with A low and B high
    assert u1.pins["1CLR"] == u1.pins["2CLR"] == "CLR"  # not tied to 3.3 V: held low at power-up
    nets = netlist.nets(netlist.CHARGE_PUMP)
    assert {("R15", "2"), ("C4", "1"), ("D4", "A")} <= nets["CLR"]  # RC to 3.3 V, diode to empty it
    assert netlist.power_on_reset_s() == pytest.approx(0.120, abs=0.001)
    assert netlist.power_on_reset_s() > 10 * 0.010  # far longer than the Pi's 3.3 V rail takes to rise


def test_every_chip_and_the_relay_coil_have_a_decoupling_capacitor_and_the_relay_suits_a_key_loop():
    for parts, supply in ((netlist.CHARGE_PUMP, "3V3"), (netlist.CHARGE_PUMP, "5V"), (netlist.RELAY_DRIVER, "5V")):
        caps = [p for p in parts if p.ref.startswith("C") and set(p.pins.values()) == {supply, "GND"}]
        assert caps, (supply, [p.ref for p in parts])
    assert "min. 10 µA" in netlist.RELAY_CONTACT_RATING and "gold" in netlist.RELAY_CONTACT_RATING
    key_contact = next(p for p in netlist.SAFETY_KEY_LOOP if p.ref == "K1")
    assert netlist.RELAY_PART in key_contact.value and netlist.RELAY_CONTACT_RATING in key_contact.note


def test_the_config_and_the_netlist_agree_on_the_slowest_loop():
    from monitor.config.schema import CHARGE_PUMP_MIN_LOOP_HZ
    assert CHARGE_PUMP_MIN_LOOP_HZ == netlist.CHARGE_PUMP_MIN_LOOP_HZ


# -- `treadguard check` with the charge-pump drive -------------------------------------------------
class CheckBench:
    """`treadguard check` on fakes, with a circuit behind the relay pin: a working charge pump
    (energized until its pulse, started by the last edge, has ended and the relay has released:
    `capacitor_farads` sets the pulse), or a broken one that follows the pin's level; a
    force-guided monitoring contact (closed while released) reports it."""

    def __init__(self, circuit: str, *, capacitor_farads: float = netlist.TIMING_C_FARADS,
                 drop_out_s: float | None = None) -> None:
        from tests.commands_support import ScriptedClock
        from tests.fake_i2c import FakeMpu6050

        self.clock = ScriptedClock(5.0)
        self.bus = FakeMpu6050(self.clock)
        self.factory = clocked_factory(self.clock)
        self.relay_pin = self.factory.pin(PIN)
        self.feedback_pin = self.factory.pin(22)
        self.circuit = circuit
        k = (netlist.K_MIN + netlist.K_MAX) / 2
        self.drop_out_s = drop_out_s if drop_out_s is not None else (
            netlist.pulse_width_s(k, c_farads=capacitor_farads) + netlist.RELAY_RELEASE_S)
        self.clock.hooks.append(self._hardware)

    def is_energized(self, now_s: float) -> bool:
        if self.circuit == "follows the level":
            return bool(self.relay_pin.state)
        history = pin_times(self.relay_pin, created_s=5.0)
        return len(history) > 1 and now_s - history[-1][0] < self.drop_out_s

    def _hardware(self, now_s: float) -> None:
        self.feedback_pin.drive_high() if self.is_energized(now_s) else self.feedback_pin.drive_low()

    def check(self, person, **relay):
        import io

        from monitor.cli.check import run_check
        from monitor.config.schema import Config
        from tests.support import with_settings

        settings = {"drive": "charge_pump", "feedback_pin": 22, **relay}
        config = with_settings(Config(), belt={"enabled": False}, relay=settings)
        out = io.StringIO()
        code = run_check(config, ask=person, clock=self.clock, i2c_bus=self.bus, pin_factory=self.factory, out=out)
        return code, out.getvalue()


def _person(held="y", dropped="y", before_yes=None):
    from tests.commands_support import Person
    return Person(("IMU clip", ""), ("type yes", "yes", before_yes), ("click on twice", held),
                  ("click off by itself", dropped))


def test_check_toggles_only_after_the_yes_and_sees_the_circuit_drop_out_with_the_pin_high_and_low():
    bench = CheckBench("charge pump")
    toggled_before_yes = []
    code, out = bench.check(_person(before_yes=lambda: toggled_before_yes.append(len(bench.relay_pin.states) > 1)))
    assert toggled_before_yes == [False]
    assert code == 0, out
    assert "toggling stopped with the pin high: the monitoring contact shows the relay released 42 ms after" in out
    assert "toggling stopped with the pin low: the monitoring contact shows the relay released 42 ms after" in out
    assert bench.relay_pin.state is False


def test_check_finds_a_circuit_that_does_not_drop_out():
    bench = CheckBench("follows the level")  # e.g. IN wired straight to the relay driver
    code, out = bench.check(_person())
    assert code == 1
    assert "the relay stayed energized 500 ms after the toggling stopped with the pin high" in out
    assert "frozen Pi would keep the belt running" in out
    assert "does not hold the relay" in out  # at the last toggle (pin low) it had let go at once


def test_check_believes_the_person_who_heard_no_pull_in():
    bench = CheckBench("charge pump")
    code, out = bench.check(_person(held="n"))
    assert code == 1 and "the charge-pump circuit does not hold the relay" in out
    assert "frozen Pi" not in out


def test_check_believes_the_person_who_heard_no_drop_out():
    bench = CheckBench("charge pump")
    code, out = bench.check(_person(dropped="n"))
    assert code == 1 and "the person heard no drop-out" in out


def test_check_times_the_drop_out_and_fails_a_2_2_uF_timing_capacitor():
    bench = CheckBench("charge pump", capacitor_farads=2.2e-6)  # about 59 ms of pulse, 15 ms of release
    code, out = bench.check(_person())
    assert code == 1, out
    assert "the relay dropped 74 ms after the last toggle, later than the 50 ms" in out
    assert "C1 and C2 are 1 uF" in out
    assert "the person heard" not in out  # the person heard it drop; only the timing tells


@pytest.mark.parametrize("drop_out_s,is_ok", [(0.049, True), (0.0515, False)])
def test_check_passes_a_drop_out_within_50_ms_and_fails_one_after(drop_out_s, is_ok):
    bench = CheckBench("charge pump", drop_out_s=drop_out_s)
    code, out = bench.check(_person())
    assert (code == 0) is is_ok, out
    assert ("later than the 50 ms" in out) is not is_ok


def test_check_without_a_monitoring_contact_says_the_drop_out_was_not_timed():
    bench = CheckBench("charge pump", capacitor_farads=2.2e-6)
    code, out = bench.check(_person(), feedback_pin=-1)
    assert code == 0 and "the drop-out time was not measured" in out
    assert "1 not tested: relay" in out  # never OK on the person's ear alone


# -- the daemon drives the charge pump ---------------------------------------------------------------
def test_the_daemon_toggles_every_healthy_tick_and_the_circuit_drops_within_50_ms_of_the_trip(
        tmp_path, monkeypatch, capsys):
    import functools
    import os
    import signal

    from monitor.cli import run as run_module
    from monitor.cli.main import main
    from tests.fake_i2c import FakeMpu6050

    path = tmp_path / "treadguard.toml"
    path.write_text('[imu]\ndriver = "mpu6050"\nmount = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n'
                    '[belt]\nenabled = false\n[relay]\ndriver = "gpio"\ndrive = "charge_pump"\n'
                    f'[record]\ntrip_dir = "{tmp_path / "trips"}"\n')
    clock = SimulatedClock(100.0)
    bus = FakeMpu6050(clock)
    factory = clocked_factory(clock)
    relay_pin = factory.pin(PIN)
    ticks = []

    def person_and_cable(verdict, core):
        ticks.append((verdict.t_s, verdict.is_relay_energized, verdict.is_new_trip))
        if len(ticks) == 100:
            os.kill(os.getpid(), signal.SIGUSR1)  # a person arms it
        if verdict.t_s >= 102.0 and not bus.is_unplugged:
            bus.unplug()  # the IMU cable is pulled: a trip

    monkeypatch.setattr(run_module, "run_hardware", functools.partial(
        run_module.run_hardware, clock=clock, i2c_bus=bus, pin_factory=factory, until_s=103.0,
        on_tick=person_and_cable))
    assert main(["run", "--config", str(path)]) == 0
    capsys.readouterr()
    energized = [t for t, is_on, _ in ticks if is_on]
    trip_s = next(t for t, _, is_trip in ticks if is_trip)
    history = pin_times(relay_pin, created_s=100.0)
    toggles = [t for t, _ in history[1:] if energized[0] <= t <= energized[-1]]
    assert len(toggles) == len(energized)  # one edge per healthy tick, none otherwise
    for k in (SHORTEST_K, LONGEST_K):
        intervals = _closed_intervals(simulate(history, 103.2, k), 103.2)
        assert len(intervals) == 1, intervals
        closed_s, opened_s = intervals[0]
        assert closed_s <= energized[0] + netlist.RELAY_OPERATE_S + 0.001
        assert energized[-1] < opened_s <= trip_s + netlist.MAX_DROP_OUT_S
