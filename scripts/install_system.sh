#!/usr/bin/env bash
# System packages the test suite needs (Debian 12): Chromium for the browser tests,
# PostGIS for the production-store tests, poppler for PDF checks. Idempotent; a no-op
# when everything is present. Then makes sure PostgreSQL runs and has a test database.
set -euo pipefail
need=()
for pkg in chromium postgresql-15-postgis-3 poppler-utils fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install_system.sh: missing ${need[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
# PostgreSQL on 127.0.0.1:5432 (trust auth on this machine kind); start it if stopped.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='burnwatch_test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE burnwatch_test"
  psql -h 127.0.0.1 -U postgres -d burnwatch_test -qc "CREATE EXTENSION IF NOT EXISTS postgis"
else
  echo "install_system.sh: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
  exit 1
fi
