"""wiring/README.md names the pins the default configuration uses, with the right header pins."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config.schema import Config

WIRING = Path(__file__).resolve().parents[1] / "wiring" / "README.md"
# BCM GPIO number -> physical pin on the 40-pin header (every Pi since the B+)
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31, 13: 33, 19: 35,
          26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 12: 32, 16: 36, 20: 38, 21: 40}


def _pin_table() -> dict[str, tuple[str, str]]:
    """setting -> (BCM cell, header cell) from the pin table's rows."""
    rows = {}
    for line in WIRING.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = (cells[2], cells[3])
    return rows


def test_the_pin_table_matches_the_config_defaults_and_the_header():
    config = Config()
    rows = _pin_table()
    for setting in ("belt.pin", "relay.pin", "relay.feedback_pin", "range.trigger_pin", "range.echo_pin",
                    "console.button_pin", "console.light_red_pin", "console.light_green_pin",
                    "console.light_blue_pin", "console.buzzer_pin"):
        section, key = setting.split(".")
        default = getattr(getattr(config, section), key)
        bcm, header = rows[setting]
        if default < 0:
            assert bcm == f"none ({default})" and header == "none", setting
        else:
            assert bcm == f"GPIO {default}" and header == str(HEADER[default]), setting


def test_the_i2c_pins_are_bus_1_on_header_pins_3_and_5():
    assert Config().imu.i2c_bus == 1
    text = WIRING.read_text(encoding="utf-8")
    assert re.search(r"\| IMU SDA \|.*\| GPIO 2 \| 3 \|", text)
    assert re.search(r"\| IMU SCL \|.*\| GPIO 3 \| 5 \|", text)


def test_every_example_pin_named_in_the_text_is_on_the_header():
    for gpio, pin in re.findall(r"GPIO (\d+), pin (\d+)", WIRING.read_text(encoding="utf-8")):
        assert HEADER[int(gpio)] == int(pin), f"GPIO {gpio} is header pin {HEADER[int(gpio)]}, not {pin}"
