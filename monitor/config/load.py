"""Reading the configuration: one TOML file, checked completely at start.

Unknown sections and keys, values of the wrong type or out of bounds, and
missing required parts are all reported together, each naming the key and what
is allowed, so one run of `treadguard config --check FILE` finds every mistake.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

from monitor.config.schema import (
    ACCEL_FULL_SCALES_G, CHARGE_PUMP_MIN_LOOP_HZ, GYRO_FULL_SCALES_DPS, SECTIONS, Config, DriftConfig,
)
from monitor.safety.settings import check_value


class ConfigError(Exception):
    """Everything wrong with a config file, one problem per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(lines))


def _check_rotation(value: Any) -> str | None:
    if value == []:
        return None
    try:
        rows = [[float(x) for x in row] for row in value]
    except (TypeError, ValueError):
        return "must be a 3x3 list of numbers, e.g. [[1, 0, 0], [0, 1, 0], [0, 0, 1]]"
    if len(rows) != 3 or any(len(r) != 3 for r in rows):
        return "must be a 3x3 list of numbers, e.g. [[1, 0, 0], [0, 1, 0], [0, 0, 1]]"
    for i in range(3):
        for j in range(3):
            dot = sum(rows[i][k] * rows[j][k] for k in range(3))
            if abs(dot - (1.0 if i == j else 0.0)) > 1e-3:
                return "is not a rotation (rows must be unit length and at right angles); run `treadguard calibrate`"
    det = (rows[0][0] * (rows[1][1] * rows[2][2] - rows[1][2] * rows[2][1])
           - rows[0][1] * (rows[1][0] * rows[2][2] - rows[1][2] * rows[2][0])
           + rows[0][2] * (rows[1][0] * rows[2][1] - rows[1][1] * rows[2][0]))
    if abs(det - 1.0) > 1e-3:
        return "is a reflection, not a rotation (determinant -1): one axis has the wrong sign"
    return None


def _build_section(name: str, cls: type, table: Any, problems: list[str]) -> Any:
    if not isinstance(table, dict):
        problems.append(f"[{name}] must be a table of settings, not {table!r}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, raw in table.items():
        field = fields.get(key)
        if field is None:
            allowed = ", ".join(fields)
            problems.append(f"{name}.{key}: unknown setting; [{name}] allows {allowed}")
            continue
        if key == "mount":
            error = _check_rotation(raw)
            value = [[float(x) for x in row] for row in raw] if error is None else raw
        else:
            value, error = check_value(field, raw)
        if error:
            problems.append(f"{name}.{key} {error}")
        else:
            values[key] = value
    return cls(**values)


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """A Config from parsed TOML, or ConfigError listing every problem."""
    problems: list[str] = []
    sections = {}
    for name, table in data.items():
        cls = SECTIONS.get(name)
        if cls is None:
            problems.append(f"[{name}]: unknown section; allowed: " + ", ".join(f"[{s}]" for s in SECTIONS))
            continue
        sections[name] = _build_section(name, cls, table, problems)
    config = Config(**sections)
    problems += _cross_checks(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def _cross_checks(config: Config) -> list[str]:
    """Rules that involve more than one setting."""
    problems = []
    period_s = 1.0 / config.loop.rate_hz
    if config.loop.late_s <= 2 * period_s:
        problems.append(
            f"loop.late_s ({config.loop.late_s:g}) must be more than two loop periods "
            f"({2 * period_s:g} s at loop.rate_hz = {config.loop.rate_hz:g})"
        )
    if config.imu.timeout_s <= period_s:
        problems.append(
            f"imu.timeout_s ({config.imu.timeout_s:g}) must be more than one loop period ({period_s:g} s)"
        )
    imu = config.imu
    if imu.accel_full_scale_g not in ACCEL_FULL_SCALES_G:
        problems.append(f"imu.accel_full_scale_g is {imu.accel_full_scale_g}, must be one of "
                        + ", ".join(map(str, ACCEL_FULL_SCALES_G)))
    if imu.gyro_full_scale_dps not in GYRO_FULL_SCALES_DPS:
        problems.append(f"imu.gyro_full_scale_dps is {imu.gyro_full_scale_dps}, must be one of "
                        + ", ".join(map(str, GYRO_FULL_SCALES_DPS)))
    if imu.lowpass_hz > imu.sample_rate_hz / 2:
        problems.append(f"imu.lowpass_hz ({imu.lowpass_hz:g}) must be at most half of imu.sample_rate_hz "
                        f"({imu.sample_rate_hz:g}), or the samples alias")
    if 0 < imu.i2c_address < 8:
        problems.append(f"imu.i2c_address ({imu.i2c_address}) is a reserved I2C address; use 0 for the chip's usual one")
    belt = config.belt
    if belt.enabled:
        # the debounce must not hide pulses at the speed limit, or an overspeed could not be seen
        fastest_period_s = 1.0 / (belt.pulses_per_m * 2 * max(belt.max_forward_mps, belt.max_backward_mps))
        if belt.debounce_s >= fastest_period_s / 2:
            problems.append(
                f"belt.debounce_s ({belt.debounce_s:g}) must be less than half the pulse period at twice the "
                f"speed limit ({fastest_period_s / 2:g} s with belt.pulses_per_m = {belt.pulses_per_m:g})")
    relay = config.relay
    if relay.drive == "charge_pump":
        if config.loop.rate_hz < CHARGE_PUMP_MIN_LOOP_HZ:
            problems.append(
                f"relay.drive = \"charge_pump\" needs loop.rate_hz of at least {CHARGE_PUMP_MIN_LOOP_HZ:g} "
                f"(it is {config.loop.rate_hz:g}): the circuit's pulse width holds the relay only while "
                "the toggles come that often; raise loop.rate_hz or use relay.drive = \"level\"")
        if not relay.active_high:
            problems.append(
                "relay.drive = \"charge_pump\" needs relay.active_high = true: the pin rests low and "
                "the circuit's input has a pull-down (see wiring/README.md)")
    if relay.feedback_pin == relay.pin:
        problems.append(f"relay.feedback_pin ({relay.feedback_pin}) must not be the relay's own pin")
    if config.range.enabled:
        rng = config.range
        if rng.trigger_pin == rng.echo_pin:
            problems.append(f"range.trigger_pin and range.echo_pin must differ (both {rng.echo_pin})")
        if rng.max_distance_m <= rng.rear_edge_m:
            problems.append(f"range.max_distance_m ({rng.max_distance_m:g}) must be beyond range.rear_edge_m "
                            f"({rng.rear_edge_m:g}), or a walker at the rear edge reads as no echo")
    pins = [("relay.pin", relay.pin)]
    pins += [("relay.feedback_pin", relay.feedback_pin)] if relay.feedback_pin >= 0 else []
    pins += [("belt.pin", belt.pin)] if belt.enabled else []
    if config.range.enabled:
        pins += [("range.trigger_pin", config.range.trigger_pin), ("range.echo_pin", config.range.echo_pin)]
    console = config.console
    if console.button_enabled:
        pins.append(("console.button_pin", console.button_pin))
        if console.button_stuck_s <= console.button_hold_s:
            problems.append(f"console.button_stuck_s ({console.button_stuck_s:g}) must be longer than "
                            f"console.button_hold_s ({console.button_hold_s:g})")
    if console.light == "rgb":
        pins += [("console.light_red_pin", console.light_red_pin),
                 ("console.light_green_pin", console.light_green_pin),
                 ("console.light_blue_pin", console.light_blue_pin)]
    elif console.light == "single":
        pins.append(("console.light_green_pin", console.light_green_pin))
    if console.buzzer_enabled:
        pins.append(("console.buzzer_pin", console.buzzer_pin))
    seen: dict[int, str] = {}
    for name, pin in pins:
        if pin in (2, 3) and config.imu.driver != "fake":
            problems.append(f"{name} ({pin}) is an I2C pin (GPIO 2 and 3 carry the IMU's bus)")
        if pin in seen:
            problems.append(f"{name} ({pin}) is already used by {seen[pin]}")
        seen.setdefault(pin, name)
    problems += _drift_checks(config.drift)
    if config.range.enabled and config.range.min_rear_margin_m >= config.range.rear_edge_m:
        problems.append(
            f"range.min_rear_margin_m ({config.range.min_rear_margin_m:g}) must be less than "
            f"range.rear_edge_m ({config.range.rear_edge_m:g})"
        )
    elif config.range.enabled and config.range.warning_zone_m > 0:
        rng = config.range
        # the zone starts this far from the sensor; nearer than 0.3 m nobody walks, so it would never be quiet
        starts_m = rng.rear_edge_m - rng.min_rear_margin_m - rng.warning_zone_m
        if starts_m < 0.3:
            problems.append(
                f"range.warning_zone_m ({rng.warning_zone_m:g}) reaches too far forward: with "
                f"range.min_rear_margin_m ({rng.min_rear_margin_m:g}) and range.rear_edge_m "
                f"({rng.rear_edge_m:g}) it would start {starts_m:.2f} m from the console and beep wherever "
                f"the walker is; make it at most {max(0.0, rng.rear_edge_m - rng.min_rear_margin_m - 0.3):.2f}")
    problems += _bridge_checks(config)
    return problems


DEVICE_ID = re.compile(r"^[a-z0-9_]{1,32}$")


def _bridge_checks(config: Config) -> list[str]:
    """[bridge]: names that end up in MQTT topics, files that go together, an address to bind."""
    bridge = config.bridge
    problems = []
    if not DEVICE_ID.match(bridge.device_id):
        problems.append(f'bridge.device_id is "{bridge.device_id}": use 1 to 32 lower-case letters, digits '
                        f'or _ (it becomes part of MQTT topics and Home Assistant ids)')
    for key in ("topic_prefix", "discovery_prefix"):
        value = getattr(bridge, key)
        if not value or any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
            problems.append(f'bridge.{key} is "{value}": it must be a non-empty MQTT topic without '
                            f'+ or # and without a leading or trailing /')
    if bridge.mqtt_password_file and not bridge.mqtt_username:
        problems.append("bridge.mqtt_password_file is set but bridge.mqtt_username is empty: set both, or neither")
    if bridge.mqtt_key_file and not bridge.mqtt_cert_file:
        problems.append("bridge.mqtt_key_file is set without bridge.mqtt_cert_file: a client key needs its certificate")
    if bridge.mqtt_cert_file and not bridge.mqtt_key_file:
        problems.append("bridge.mqtt_cert_file is set without bridge.mqtt_key_file: a client certificate needs its key")
    if not bridge.mqtt_tls:
        for key in ("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file"):
            if getattr(bridge, key):
                problems.append(f"bridge.{key} is set but bridge.mqtt_tls is false: set mqtt_tls = true to use it")
    try:
        ipaddress.ip_address(bridge.dashboard_bind)
    except ValueError:
        problems.append(f'bridge.dashboard_bind is "{bridge.dashboard_bind}": it must be an IP address '
                        f'(127.0.0.1 for this Pi only, 0.0.0.0 for the home network)')
    if not bridge.session_db:
        problems.append("bridge.session_db is empty: give the path of the session log")
    return problems


def _drift_checks(drift: DriftConfig) -> list[str]:
    """Drift settings that, together, would blind the stopped-stepping check or delay it."""
    problems = []
    if drift.min_no_step_s > drift.max_no_step_s:
        problems.append(f"drift.min_no_step_s ({drift.min_no_step_s:g}) must be at most drift.max_no_step_s "
                        f"({drift.max_no_step_s:g})")
    if drift.step_level_tau_s < drift.max_no_step_s:
        problems.append(
            f"drift.step_level_tau_s ({drift.step_level_tau_s:g}) must be at least drift.max_no_step_s "
            f"({drift.max_no_step_s:g}), or the step size learnt from the walker fades to the noise of "
            "standing before a stop is decided, and that noise then counts as steps")
    if drift.step_band_low_hz * 2 > drift.step_band_high_hz:
        problems.append(
            f"drift.step_band_high_hz ({drift.step_band_high_hz:g}) must be at least twice drift.step_band_low_hz "
            f"({drift.step_band_low_hz:g}), or the band passes no gait")
    if drift.max_carry_m > drift.min_belt_mps * drift.max_no_step_s:
        problems.append(
            f"drift.max_carry_m ({drift.max_carry_m:g}) must be at most drift.min_belt_mps * drift.max_no_step_s "
            f"({drift.min_belt_mps * drift.max_no_step_s:g} m), or on a slow belt a walker who stopped is "
            "decided later than drift.max_no_step_s")
    return problems


def load_config(path: str | Path) -> Config:
    """Read and check a TOML config file; ConfigError names every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, ["file not found; copy the example with `treadguard config --example > FILE`"])
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(source, [f"cannot be read ({err}); check the path and its permissions"])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(source, [f"is not valid TOML: {err}"])
    return parse_config(data, source)
