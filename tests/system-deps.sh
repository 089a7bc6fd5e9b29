#!/usr/bin/env bash
# System packages the test suite needs: a real OpenSSH server (device tests) and Chromium
# (HTML report rendering). Debian/Ubuntu; run as root (or with sudo available).
set -euo pipefail
pkgs=(openssh-server openssh-client chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
