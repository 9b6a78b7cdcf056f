#!/usr/bin/env bash
# Install flatimg's build and test dependencies on Debian 12 (needs root or sudo).
# qemu-utils is the test oracle only: flatimg never needs it at run time.
set -euo pipefail
PKGS="build-essential autoconf automake libtool pkg-config libfuse3-dev fuse3 zlib1g-dev
      libjson-c-dev libcmocka-dev libzstd-dev qemu-utils fdisk util-linux xz-utils e2fsprogs
      qemu-system-common python3 strace"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi
