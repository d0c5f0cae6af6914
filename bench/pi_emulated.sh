#!/usr/bin/env bash
# An emulated Raspberry Pi: arm64 Debian roots (bookworm: Python 3.11, trixie: Python 3.13,
# the bases of Raspberry Pi OS) run under qemu-user; installs treadguard there with the
# README's commands and prints what worked.
#
#   sudo bash bench/pi_emulated.sh [bookworm] [trixie]     (default: both)
#
# Environment: PI_ROOTS   where the roots are built and kept (default /var/tmp/treadguard-pi;
#                         a root is about 400 MB, reused by later runs: delete it to rebuild)
#              BENCH_RUNS how many times `run --bench` plays the demo (default 3)
#              QEMU_CPU   the emulated CPU (default cortex-a72, a Pi 4's; see below)
# Needs root, Debian's archive and PyPI. It installs debootstrap, qemu-user-static and
# binfmt-support with apt when they are missing, and registers qemu-aarch64 with the
# kernel's binfmt_misc (mounting it if needed). Each release's steps, in its root:
#   1. the README's install: python3 -m venv .venv && .venv/bin/pip install -e .
#   2. treadguard --version
#   3. treadguard config --check on the example config
#   4. treadguard replay of the demo trace
#   5. treadguard run --bench, BENCH_RUNS times plainly and BENCH_RUNS times at the service's
#      real-time priority (chrt --fifo 40): does it reach the demo's stumble at 12.08 s?
#      Then bench/startup_profile.py: the longest tick interval in the loop's first 2 s.
#   6. sudo python3 systemd/install.py --root: lgpio importable in the venv, or a clear
#      refusal (exit 1, "no GPIO backend", nothing enabled), never a traceback
# The checkout copied into the root is the git-tracked files plus a named pipe .lgd-nfy0
# (what lgpio leaves in a folder where a GPIO program ran), which must change nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
roots=${PI_ROOTS:-/var/tmp/treadguard-pi}
bench_runs=${BENCH_RUNS:-3}
releases=("$@")
[ ${#releases[@]} -eq 0 ] && releases=(bookworm trixie)

if [ "$(id -u)" -ne 0 ]; then
  echo "pi_emulated.sh: needs root (debootstrap, chroot, binfmt_misc): run it with sudo" >&2
  exit 2
fi
if ! command -v debootstrap > /dev/null || ! [ -x /usr/bin/qemu-aarch64-static ] || ! command -v update-binfmts > /dev/null; then
  echo "installing debootstrap, qemu-user-static, binfmt-support (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
     debootstrap qemu-user-static binfmt-support) > /dev/null || { echo "apt-get failed" >&2; exit 2; }
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
    || { echo "pi_emulated.sh: cannot mount binfmt_misc: this machine cannot run arm64 programs" >&2; exit 2; }
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 \
    || { echo "pi_emulated.sh: cannot register qemu-aarch64 with binfmt_misc" >&2; exit 2; }
fi
mkdir -p "$roots"
# The CPU qemu emulates: a Raspberry Pi 4's Cortex-A72 (a Pi 5's A76 has no more of what matters
# here). qemu's default, "max", implements pointer authentication in software, and Debian 13
# builds its arm64 code with it (-mbranch-protection): there Python ran a plain loop about 20x
# slower than on Debian 12 (12.5 s against 0.45 s), and the bench's loop ran late. A Pi has no
# pointer authentication, so those instructions are no-ops on it, as they are on an emulated A72.
export QEMU_CPU=${QEMU_CPU:-cortex-a72}

summary=()
say() { printf '%s\n' "$*"; }
record() {  # release, step, verdict
  summary+=("$(printf '  %-9s %-22s %s' "$1" "$2" "$3")")
  printf '  %-9s %-22s %s\n' "$1" "$2" "$3"
}

mounted=()
unmount_all() {
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}" 2> /dev/null; done
  mounted=()
}
trap unmount_all EXIT
unmount_under() {  # what an interrupted debootstrap or run left mounted in a root, deepest first
  awk -v root="$1/" 'index($2 "/", root) == 1 { print $2 }' /proc/mounts | sort -r | while read -r path; do
    umount -l "$path"
  done
}

for release in "${releases[@]}"; do
  root="$roots/$release-arm64"
  log="$roots/$release.log"
  : > "$log"
  say "== $release (arm64, under qemu-user), log: $log"
  unmount_under "$root"
  if [ ! -e "$root/.treadguard-base" ]; then
    rm -rf --one-file-system "$root"
    start=$(date +%s)
    if ! debootstrap --arch=arm64 --variant=minbase \
          --include=python3,python3-venv,python3-pip,systemd,ca-certificates \
          "$release" "$root" http://deb.debian.org/debian >> "$log" 2>&1; then
      record "$release" "debootstrap" "FAILED (see $log)"
      continue
    fi
    # the package lists a real system has (apt-cache policy python3-lgpio reads them)
    chroot "$root" apt-get update -qq >> "$log" 2>&1
    touch "$root/.treadguard-base"
    record "$release" "debootstrap" "made in $(( $(date +%s) - start )) s"
  else
    record "$release" "debootstrap" "kept ($root)"
  fi
  for fs in proc sys dev; do
    mount --bind "/$fs" "$root/$fs" && mounted+=("$root/$fs")
  done
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  # This machine's trust store: where a proxy re-signs TLS, pip in the root must trust it too.
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  python=$(chroot "$root" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
  arch=$(chroot "$root" python3 -c 'import platform; print(platform.machine())')
  record "$release" "python" "$python on $arch"

  # The checkout as a person has it: the tracked files, and lgpio's pipe in it.
  rm -rf --one-file-system "$root/home/pi/treadguard" "$root/tmp/staging"
  mkdir -p "$root/home/pi/treadguard"
  git -C "$checkout" ls-files -z | tar -C "$checkout" --null -T - -cf - | tar -C "$root/home/pi/treadguard" -xf -
  mkfifo "$root/home/pi/treadguard/.lgd-nfy0"
  in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
                PIP_CERT=/etc/ssl/certs/ca-certificates.crt sh -c "cd /home/pi/treadguard && $1" >> "$log" 2>&1; }

  start=$(date +%s)
  if in_root "python3 -m venv .venv && .venv/bin/pip install --quiet -e ."; then
    record "$release" "pip install -e ." "ok in $(( $(date +%s) - start )) s"
  else
    record "$release" "pip install -e ." "FAILED (see $log)"
    unmount_all; continue
  fi
  version=$(chroot "$root" /home/pi/treadguard/.venv/bin/treadguard --version 2>&1)
  record "$release" "treadguard --version" "${version:-FAILED}"
  if in_root ".venv/bin/treadguard config --check monitor/config/example-config.toml"; then
    record "$release" "config --check" "ok"
  else
    record "$release" "config --check" "FAILED"
  fi
  start=$(date +%s)
  if in_root ".venv/bin/treadguard replay monitor/demo/walk-then-stumble.csv.gz"; then
    record "$release" "replay (demo)" "ok in $(( $(date +%s) - start )) s"
  else
    record "$release" "replay (demo)" "FAILED"
  fi
  record "$release" "load average" "$(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; $(nproc) cores)"
  # plain, as a person runs the demo; then as the service is scheduled (its unit's
  # CPUSchedulingPolicy=fifo, priority 40), which a busy machine's other work cannot delay
  for priority in plain "chrt --fifo 40"; do
    label=$([ "$priority" = plain ] && echo "run --bench, plain" || echo "run --bench, fifo 40")
    reached=0
    prefix=$([ "$priority" = plain ] || echo "$priority")
    for run in $(seq "$bench_runs"); do
      out="$roots/$release-bench-${priority// /-}-$run.txt"
      chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 COLUMNS=80 \
        sh -c "cd /home/pi/treadguard && $prefix .venv/bin/treadguard run --bench" > "$out" 2>&1
      tripped=$(grep -m1 '^TRIPPED at' "$out" || echo "no trip line (see $out)")
      say "    $label, $run: $tripped"
      # the demo's stumble is at 12.08 s; a tick that wakes late decides it at the next one
      case "$tripped" in "TRIPPED at 12.08 s into the trace: stumble"*|"TRIPPED at 12.09 s into the trace: stumble"*)
        reached=$((reached + 1));; esac
    done
    record "$release" "$label" "$reached of $bench_runs reached the stumble at 12.08 s (or 12.09)"
  done
  # what the loop's first seconds cost there: the longest tick interval, and what ran in it
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 \
    sh -c "cd /home/pi/treadguard && .venv/bin/python bench/startup_profile.py --slow-ms 50" \
    > "$roots/$release-startup.txt" 2>&1
  record "$release" "first 2 s of the loop" "$(grep -m1 '^in the first' "$roots/$release-startup.txt" \
    | sed 's/^in the first 2 s: //' || echo "no profile (see $roots/$release-startup.txt)")"

  in_root "python3 systemd/install.py --root /tmp/staging > /tmp/install.out 2> /tmp/install.err"
  cat "$root/tmp/install.out" "$root/tmp/install.err" >> "$log"
  enabled=no
  [ -L "$root/tmp/staging/etc/systemd/system/multi-user.target.wants/treadguard.service" ] && enabled=yes
  if grep -q Traceback "$root/tmp/install.err"; then
    record "$release" "install.py --root" "FAILED: a traceback (see $log)"
  elif [ "$enabled" = yes ] && chroot "$root" /tmp/staging/opt/treadguard/venv/bin/python \
         -c 'import lgpio; lgpio.gpiochip_open' 2>> "$log"; then
    record "$release" "install.py --root" "ok: lgpio importable in the venv, unit enabled"
  elif [ "$enabled" = no ] && grep -q "no GPIO backend" "$root/tmp/install.err"; then
    record "$release" "install.py --root" "refused, nothing enabled: $(tr -s ' \n' ' ' < "$root/tmp/install.err" \
      | grep -o 'lgpio could not be installed[^(]*([^)]*)')"
  else
    record "$release" "install.py --root" "FAILED (enabled=$enabled; see $log)"
  fi
  unmount_all
done

say ""
say "== what worked"
printf '%s\n' "${summary[@]}"
