#!/usr/bin/env bash
# Runs Coffer's whole test suite against both storage engines: SQLite
# (embedded, always) and PostgreSQL (the local server, started if it is
# down). Usage: scripts/test.sh [extra go test flags]   (make test calls it)
set -euo pipefail
cd "$(dirname "$0")/.."

: "${COFFER_TEST_POSTGRES:=postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export COFFER_TEST_POSTGRES

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! pg_up; then
  echo "PostgreSQL is not reachable at 127.0.0.1:5432: the PostgreSQL half of the suite will skip" >&2
  unset COFFER_TEST_POSTGRES
fi

go vet ./...
go test -race -count=1 -timeout 20m "$@" ./...
