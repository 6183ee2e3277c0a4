#!/usr/bin/env bash
# Make Debian's PostgreSQL available for the store tests (the tests start their own
# server: initdb into a temp dir, a random loopback port). Idempotent; needs root (or
# passwordless sudo) only when the package is missing.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" > /dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo -n"
fi
echo "installing postgresql (Debian package) for the store tests..."
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends postgresql
