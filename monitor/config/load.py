"""Reading the configuration: one TOML file, checked completely at start.

Unknown sections and keys, values of the wrong type or out of bounds, and
missing required parts are all reported together, each naming the key and what
is allowed, so one run of `treadguard config --check FILE` finds every mistake.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

from monitor.config.bus_load import check_config as check_bus_load
from monitor.config.schema import (
    ACCEL_FULL_SCALES_G,
    CHARGE_PUMP_MIN_LOOP_HZ,
    DERIVED,
    DSO32_ACCEL_FULL_SCALES_G,
    GYRO_FULL_SCALES_DPS,
    RELATIONS,
    RULES,
    SECTIONS,
    Config,
    describe_side,
    quantity,
    unit_of,
)
from monitor.safety.settings import check_value, describe_bounds, quoted, shown


class ConfigError(Exception):
    """Everything wrong with a config file, one problem per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(lines))


def _build_section(name: str, cls: type, table: Any, problems: list[str]) -> Any:
    if not isinstance(table, dict):
        problems.append(f"[{name}] must be a table of settings, not {shown(table)}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, raw in table.items():
        field = fields.get(key)
        if field is None:
            allowed = ", ".join(fields)
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            problems.append(f"{name}.{_key(key)}: unknown setting; {hint}[{name}] allows {allowed}")
            continue
        value, error = check_value(field, raw)
        if error:
            problems.append(f"{name}.{key} {error}")
        else:
            values[key] = value
    return cls(**values)


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """A Config from parsed TOML, or ConfigError listing every problem; never another exception."""
    try:
        return _parse_config(data, source)
    except ConfigError:
        raise
    except Exception as err:  # a bug here must still name the file, never show a traceback
        raise ConfigError(source, [f"could not be checked ({type(err).__name__}: {shown(str(err))}); "
                                   "please report this with the file attached"]) from err


def _parse_config(data: dict[str, Any], source: str) -> Config:
    problems: list[str] = []
    sections = {}
    for name, table in data.items():
        cls = SECTIONS.get(name)
        if cls is None:
            problems.append(f"[{_key(name)}]: unknown section; allowed: " + ", ".join(f"[{s}]" for s in SECTIONS))
            continue
        sections[name] = _build_section(name, cls, table, problems)
    config = Config(**sections)
    problems += _cross_checks(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def _key(name: str) -> str:
    """A key from the file as a message shows it: as it is when plain, else quoted and shortened."""
    return name if name.isascii() and name.isprintable() and 0 < len(name) <= 40 else quoted(name)


def _rule_problems(config: Config) -> list[str]:
    """Every declared rule between settings (`schema.RULES`) that `config` breaks."""
    problems = []
    for rule in RULES:
        if not all(quantity(config, switch) for switch in rule.when):
            continue
        left, right = quantity(config, rule.left), rule.factor * quantity(config, rule.right)
        words, holds = RELATIONS[rule.relation]
        if holds(left, right):
            continue
        lhs = f"{DERIVED[rule.left].words}, {DERIVED[rule.left].formula}" if rule.left in DERIVED else rule.left
        rhs = f"{right:g}{unit_of(rule.right)}"
        if rule.factor != 1:
            rhs = f"{rule.factor:g} x {quantity(config, rule.right):g}{unit_of(rule.right)} = {rhs}"
        problems.append(f"{lhs} ({left:g}{unit_of(rule.left)}) must be {words} "
                        f"{describe_side(rule.right, rule.factor)} ({rhs}), {rule.why}")
    return problems


def _cross_checks(config: Config) -> list[str]:
    """Rules that involve more than one setting and are not a comparison (`schema.RULES`)."""
    problems = _rule_problems(config)
    bus_load = check_bus_load(config)  # the IMU's reads must fit the tick: `run` would refuse them too
    if bus_load is not None and bus_load.is_too_high:
        problems.append(bus_load.refusal())
    imu = config.imu
    if imu.accel_full_scale_g not in ACCEL_FULL_SCALES_G:
        problems.append(f"imu.accel_full_scale_g is {imu.accel_full_scale_g}, must be one of "
                        + ", ".join(map(str, ACCEL_FULL_SCALES_G)))
    if imu.gyro_full_scale_dps not in GYRO_FULL_SCALES_DPS:
        problems.append(f"imu.gyro_full_scale_dps is {imu.gyro_full_scale_dps}, must be one of "
                        + ", ".join(map(str, GYRO_FULL_SCALES_DPS)))
    if imu.part != "auto" and imu.driver != "lsm6ds3":
        problems.append(f"imu.part = \"{imu.part}\" names an LSM6 part, so it needs imu.driver = \"lsm6ds3\" "
                        f"(it is \"{imu.driver}\"); use imu.part = \"auto\" for other drivers")
    if imu.part == "lsm6dso32" and imu.accel_full_scale_g not in DSO32_ACCEL_FULL_SCALES_G:
        problems.append(f"imu.accel_full_scale_g is {imu.accel_full_scale_g}, which the LSM6DSO32 does not "
                        "have (imu.part = \"lsm6dso32\"): use " + ", ".join(map(str, DSO32_ACCEL_FULL_SCALES_G)))
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
    rng = config.range
    # (range.min_rear_margin_m < range.rear_edge_m is one of the declared RULES)
    if rng.enabled and rng.warning_zone_m > 0 and rng.min_rear_margin_m < rng.rear_edge_m:
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
    problems += _host_name_problems(bridge.dashboard_hosts)
    if not bridge.session_db:
        problems.append("bridge.session_db is empty: give the path of the session log")
    return problems


MAX_DASHBOARD_HOSTS = 16
HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$",
                       re.IGNORECASE)


def _host_name_problems(names: list) -> list[str]:
    """bridge.dashboard_hosts: a short list of host names or IP addresses, no patterns."""
    if not isinstance(names, list):
        return ["bridge.dashboard_hosts must be a list of host names, e.g. [\"treadmill.home.arpa\"]"]
    if len(names) > MAX_DASHBOARD_HOSTS:
        return [f"bridge.dashboard_hosts lists {len(names)} names: at most {MAX_DASHBOARD_HOSTS}"]
    problems = []
    for name in names:
        if not isinstance(name, str):
            problems.append(f"bridge.dashboard_hosts holds {shown(name)}: each entry must be a host name "
                            f"in quotes, e.g. \"treadmill.home.arpa\"")
            continue
        try:
            ipaddress.ip_address(name)
            continue
        except ValueError:
            pass
        if not HOST_NAME.match(name):
            problems.append(f"bridge.dashboard_hosts holds {quoted(name)}: not a host name (letters, digits, "
                            f"- and dots, no * or port), e.g. \"treadmill.home.arpa\"")
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
    except ValueError:  # tomllib turns an integer past Python's int-to-str limit into ValueError
        raise ConfigError(source, [_huge_integer_problem(text)])
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(source, [_deep_nesting_problem(text)])
    return parse_config(data, source)


def _where(text: str, line_index: int) -> tuple[str, str]:
    """("line N (section.key)", what that key allows) for a line of a TOML text, as far
    as a plain reading tells."""
    lines = text.splitlines()
    section = ""
    for line in lines[:line_index + 1]:
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.strip("[] ")
    key = lines[line_index].partition("=")[0].strip() if "=" in lines[line_index] else ""
    name = ".".join(part for part in (section, key) if part)
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])} if section in SECTIONS else {}
    allowed = describe_bounds(fields[key]) if key in fields else ""
    return f"line {line_index + 1}" + (f" ({_key(name)})" if name else ""), allowed


def _huge_integer_problem(text: str) -> str:
    for i, line in enumerate(text.splitlines()):
        run = max((len(m.group()) for m in re.finditer(r"[0-9_]+", line)), default=0)
        if run > 4300:
            where, allowed = _where(text, i)
            return (f"{where} is an integer of {run} digits, too large to read; must be "
                    + (allowed or "a number within its setting's bounds (see `treadguard config --example`)"))
    return "holds a number too large to read; no setting takes a number that large"


def _deep_nesting_problem(text: str) -> str:
    for i, line in enumerate(text.splitlines()):
        if line.count("[") > 50 or line.count("{") > 50:
            return (f"{_where(text, i)[0]} nests arrays or tables too deeply to read; no setting is nested "
                    "more than 2 levels (a mount is [[1, 0, 0], [0, 1, 0], [0, 0, 1]])")
    return "nests arrays or tables too deeply to read; no setting is nested more than 2 levels"
