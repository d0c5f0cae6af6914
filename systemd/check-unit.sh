#!/usr/bin/env bash
# Checks the service units the way systemd will read them, without installing anything:
#   1. `systemd-analyze verify` must pass and print nothing (it exits 0 on mere
#      warnings such as an unknown or unparsable setting, so any output fails too);
#   2. `systemd-analyze security --offline=true` must rate the exposure at most the
#      unit's limit: 2.0 for the safety daemon (treadguard.service), 2.5 for the
#      networked home bridge (treadguard-bridge.service);
#   3. the daemon's unit keeps its network isolation (PrivateNetwork=yes,
#      IPAddressDeny=any): the bridge is the only part that may reach a network.
# Prints each exposure. Exits non-zero on any failure.
#
# verify checks that ExecStart's program exists, and /opt/treadguard/venv/bin/treadguard
# exists only on an installed Pi. So the unit is verified with --root against a
# scratch root: the unit in etc/systemd/system, an executable stand-in at the
# ExecStart path, and a copy of this machine's system units (sysinit.target and
# friends, which the unit's default dependencies need). The unit itself is
# verified unchanged, ExecStart path and all.
#
# Usage: systemd/check-unit.sh [UNIT_FILE...]   (default: both units beside this script)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if [ "$#" -eq 0 ]; then
  set -- "$here/treadguard.service" "$here/treadguard-bridge.service"
fi
if [ "$#" -gt 1 ]; then
  for unit in "$@"; do bash "$0" "$unit"; done
  exit 0
fi
unit="$1"
case "$(basename "$unit")" in
  treadguard-bridge.service) max_exposure="2.5" ;;
  *) max_exposure="2.0" ;;
esac

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "check-unit: systemd-analyze not found (install systemd); cannot check $unit" >&2
  exit 1
fi
if [ ! -f "$unit" ]; then
  echo "check-unit: no unit file at $unit" >&2
  exit 1
fi
name="$(basename "$unit")"

system_units=""
for dir in /usr/lib/systemd/system /lib/systemd/system; do
  if [ -f "$dir/sysinit.target" ]; then system_units="$dir"; break; fi
done
if [ -z "$system_units" ]; then
  echo "check-unit: this machine's system units (sysinit.target) were not found" >&2
  exit 1
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system"
cp -a "$system_units" "$root/usr/lib/systemd/system"
cp "$unit" "$root/etc/systemd/system/$name"
exec_start="$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | head -n 1)"
if [ -z "$exec_start" ]; then
  echo "check-unit: $unit has no ExecStart=" >&2
  exit 1
fi
mkdir -p "$root$(dirname "$exec_start")"
printf '#!/bin/sh\nexit 0\n' > "$root$exec_start"
chmod 0755 "$root$exec_start"

status=0
verify_out="$(systemd-analyze verify --man=no --root="$root" "$name" 2>&1)" || status=$?
if [ "$status" -ne 0 ] || [ -n "$verify_out" ]; then
  echo "check-unit: FAIL: systemd-analyze verify $name (exit $status):" >&2
  printf '%s\n' "$verify_out" >&2
  exit 1
fi
echo "check-unit: systemd-analyze verify --root=<scratch root> $name: OK (no warnings)"

security_out="$(systemd-analyze security --offline=true "$unit" 2>&1)" || {
  echo "check-unit: FAIL: systemd-analyze security --offline=true $unit:" >&2
  printf '%s\n' "$security_out" >&2
  exit 1
}
exposure="$(printf '%s\n' "$security_out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -n 1)"
if [ -z "$exposure" ]; then
  echo "check-unit: FAIL: no overall exposure level in the output of systemd-analyze security:" >&2
  printf '%s\n' "$security_out" >&2
  exit 1
fi
printf '%s\n' "$security_out" | grep -F '✗' || true
echo "check-unit: $name exposure level $exposure (must be at most $max_exposure)"
if ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e + 0 <= m + 0) }'; then
  echo "check-unit: FAIL: exposure $exposure is above $max_exposure" >&2
  exit 1
fi
if [ "$(basename "$unit")" = "treadguard.service" ]; then
  for setting in "PrivateNetwork=yes" "IPAddressDeny=any"; do
    if ! grep -qx "$setting" "$unit"; then
      echo "check-unit: FAIL: $name must keep $setting: the safety daemon stays off every network" >&2
      exit 1
    fi
  done
  echo "check-unit: $name keeps PrivateNetwork=yes and IPAddressDeny=any"
fi
echo "check-unit: $name OK"
