#!/usr/bin/env bash
# The test suite on Debian 13's own Python 3.13 (Raspberry Pi OS trixie's), for a machine
# without a python3.13: a Debian 13 root made with debootstrap (kept in $CI_ROOTS, default
# /var/tmp/treadguard-ci, and reused), the checkout's parent folder bound into it (so
# ../shared/data is there as it is here), a venv and pytest inside.
#   bash .ci/debian13-suite.sh [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
parent=$(dirname "$here")
roots=${CI_ROOTS:-/var/tmp/treadguard-ci}
root="$roots/trixie-$(dpkg --print-architecture)"
if ! command -v debootstrap > /dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap) > /dev/null
fi
# what an interrupted run left mounted in the root, deepest first
awk -v root="$root/" 'index($2 "/", root) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
if [ ! -e "$root/.treadguard-base" ]; then
  rm -rf --one-file-system "$root"
  mkdir -p "$roots"
  start=$(date +%s)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    trixie "$root" http://deb.debian.org/debian > "$roots/debootstrap.log" 2>&1 \
    || { echo "debootstrap of Debian 13 failed: see $roots/debootstrap.log" >&2; exit 1; }
  # what the tests use besides Python (as .ci/run installs them here), by apt inside the root:
  # debootstrap's own --include cannot order the browser's package scripts
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends graphviz mosquitto chromium gcc python3-dev' >> "$roots/debootstrap.log" 2>&1 \
    || { echo "installing the test tools in the Debian 13 root failed: see $roots/debootstrap.log" >&2; exit 1; }
  touch "$root/.treadguard-base"
  echo "Debian 13 root made in $(( $(date +%s) - start )) s"
fi
mkdir -p "$root/ci"
mounts=()
cleanup() { for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -l "${mounts[$i]}" 2> /dev/null || true; done; }
trap cleanup EXIT
for fs in proc sys dev; do mount --bind "/$fs" "$root/$fs"; mounts+=("$root/$fs"); done
mount --bind "$parent" "$root/ci"; mounts+=("$root/ci")
mount -t tmpfs tmpfs "$root/tmp"; mounts+=("$root/tmp")
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
inside="/ci/$(basename "$here")"
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CI="${CI:-}" \
  PIP_CERT=/etc/ssl/certs/ca-certificates.crt sh -c \
  "cd $inside && python3 -m venv .venv-debian13 && .venv-debian13/bin/pip install -q -e '.[test,wiring,plot,bridge]' \
   && .venv-debian13/bin/python --version && .venv-debian13/bin/pytest -p no:cacheprovider $*"
