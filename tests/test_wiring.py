"""wiring/netlist.py, the pin table in wiring/README.md and the configuration's defaults agree,
and every pin named is on the 40-pin header where the text says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from monitor.config.schema import Config

ROOT = Path(__file__).resolve().parents[1]
WIRING = ROOT / "wiring" / "README.md"
sys.path.insert(0, str(ROOT / "wiring"))

import netlist  # noqa: E402

# BCM GPIO number -> physical pin on the 40-pin header (every Pi since the B+)
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31, 13: 33, 19: 35,
          26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 12: 32, 16: 36, 20: 38, 21: 40}
POWER = {1: "3V3", 17: "3V3", 2: "5V", 4: "5V", 6: "GND", 9: "GND", 14: "GND", 20: "GND", 25: "GND", 30: "GND",
         34: "GND", 39: "GND"}


def _rows(cells_wanted: int) -> list[list[str]]:
    rows = []
    for line in WIRING.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == cells_wanted:
                rows.append(cells)
    return rows


def _pin_table() -> dict[str, tuple[str, str]]:
    """setting -> (BCM cell, header cell) from the pin table's rows."""
    return {cells[1].strip("`"): (cells[2], cells[3]) for cells in _rows(5) if cells[1].startswith("`")}


def _setting_default(setting: str):
    section, key = setting.split(".")
    return getattr(getattr(Config(), section), key)


def test_the_pin_table_matches_the_config_defaults_and_the_header():
    rows = _pin_table()
    for setting in ("belt.pin", "relay.pin", "relay.feedback_pin", "range.trigger_pin", "range.echo_pin",
                    "console.button_pin", "console.light_red_pin", "console.light_green_pin",
                    "console.light_blue_pin", "console.buzzer_pin"):
        default = _setting_default(setting)
        bcm, header = rows[setting]
        if default < 0:
            assert bcm == f"none ({default})" and header == "none", setting
        else:
            assert bcm == f"GPIO {default}" and header == str(HEADER[default]), setting


def test_the_netlist_pins_are_the_config_defaults_and_the_pin_table():
    rows = _pin_table()
    for pin in netlist.HEADER:
        if pin.bcm is not None:
            assert HEADER[pin.bcm] == pin.header, pin
        if pin.setting:
            assert _setting_default(pin.setting) == pin.bcm, pin.setting
            assert rows[pin.setting] == (f"GPIO {pin.bcm}", str(pin.header)), pin.setting
        if pin.bcm is None:
            assert POWER[pin.header] == pin.signal, pin
    named = {p.setting for p in netlist.HEADER if p.setting}
    assert {s for s, (bcm, _) in rows.items() if bcm.startswith("GPIO")} == named  # no pin only in one of them


def test_the_i2c_pins_are_bus_1_on_header_pins_3_and_5_in_all_three():
    assert Config().imu.i2c_bus == 1
    text = WIRING.read_text(encoding="utf-8")
    assert re.search(r"\| IMU SDA \|.*\| GPIO 2 \| 3 \|", text)
    assert re.search(r"\| IMU SCL \|.*\| GPIO 3 \| 5 \|", text)
    assert netlist.HEADER_BY_PIN[3].bcm == 2 and netlist.HEADER_BY_PIN[5].bcm == 3


def test_the_power_table_is_the_cables_power_wires():
    table = {(cells[1], int(cells[2])) for cells in _rows(3) if cells[2].isdigit()}
    wires = {(netlist.HEADER_BY_PIN[pin].signal, pin) for cable in netlist.CABLES for pin, _, _ in cable.wires
             if netlist.HEADER_BY_PIN[pin].bcm is None}
    assert table == wires


def test_every_signal_wire_goes_to_the_matching_pin_at_the_far_end():
    # ECHO reaches GPIO 24 only through the divider (drawn in range-sensor.svg), never straight
    far_end = {"SDA": "SDA", "SCL": "SCL", "BELT": "OUT", "RELAY": "IN", "TRIG": "TRIG", "ECHO": netlist.DIVIDED_ECHO}
    seen = set()
    for cable in netlist.CABLES:
        for pin, far, _ in cable.wires:
            signal = netlist.HEADER_BY_PIN[pin].signal
            if signal in far_end:
                assert far == far_end[signal], (cable.ref, pin, far)
                seen.add(signal)
            else:
                assert far in (signal, "VCC"), (cable.ref, pin, far)  # power to power, GND to GND
    assert seen == set(far_end)  # every signal has its wire


def test_the_relay_schematics_take_their_input_from_the_relay_pin():
    relay_net = netlist.HEADER_BY_PIN[HEADER[Config().relay.pin]].signal
    for parts in (netlist.RELAY_DRIVER, netlist.CHARGE_PUMP):
        assert relay_net in netlist.nets(parts)


def test_every_example_pin_named_in_the_text_is_on_the_header():
    for gpio, pin in re.findall(r"GPIO (\d+), pin (\d+)", WIRING.read_text(encoding="utf-8")):
        assert HEADER[int(gpio)] == int(pin), f"GPIO {gpio} is header pin {HEADER[int(gpio)]}, not {pin}"


def test_the_charge_pump_figures_in_the_text_are_the_netlists():
    text = WIRING.read_text(encoding="utf-8")
    shortest_s, longest_s = netlist.pulse_width_range_s()
    assert f"tW from {shortest_s * 1000:.1f} ms to {longest_s * 1000:.1f} ms" in text
    assert f"{longest_s * 1000:.1f} + 15 = {(longest_s + netlist.RELAY_RELEASE_S) * 1000:.1f} ms" in text
    assert f"about {netlist.retrigger_time_s() * 1000:.1f} ms for 56 kΩ and 1 µF, not microseconds" in text
    assert "retrigger time (microseconds)" not in text
    assert "CLR of both halves is tied straight to 3.3 V" not in text and "74HC423" in text


def test_the_parts_list_names_each_schematic_part_value():
    text = WIRING.read_text(encoding="utf-8")
    for part in netlist.CHARGE_PUMP + netlist.RELAY_DRIVER + netlist.RANGE_SENSOR:
        value = part.value.split(" coil")[0].replace(" film 5 %", "").replace(" 1 %", "")
        assert value in text, (part.ref, value)
    assert netlist.RELAY_PART in text and "10 µA at 10 mV" in text
