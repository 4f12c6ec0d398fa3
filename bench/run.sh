#!/usr/bin/env bash
# Builds release binaries and benchmarks wxauth on SQLite, PostgreSQL and MariaDB (each when
# reachable), measuring the floor of each run's dependencies in the same run.
#   bash bench/run.sh              # all three
#   bash bench/run.sh postgres     # one
#   WXAUTH_BENCH_STEADY_SECONDS=300 bash bench/run.sh   # and 5 minutes at half the maximum rate
# Results: a printed summary per database, JSON in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p wxauth-server -p wxauth-bench
steady=(--steady-seconds "${WXAUTH_BENCH_STEADY_SECONDS:-0}")
mkdir -p bench/results
targets=("${@:-sqlite postgres mysql}")
for target in ${targets[@]}; do
  case "$target" in
    sqlite)
      ./target/release/wxauth-bench "${steady[@]}" --database sqlite --json bench/results/sqlite.json ;;
    postgres)
      url="${WXAUTH_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
      if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then echo "PostgreSQL is not running; skipped"; continue; fi
      psql "$url/postgres" -qc "DROP DATABASE IF EXISTS wxauth_bench" -qc "CREATE DATABASE wxauth_bench"
      ./target/release/wxauth-bench "${steady[@]}" --database "$url/wxauth_bench?sslmode=disable" --json bench/results/postgres.json
      psql "$url/postgres" -qc "DROP DATABASE IF EXISTS wxauth_bench" ;;
    mysql)
      if ! mariadb-admin -h 127.0.0.1 -u root ping --silent >/dev/null 2>&1; then echo "MariaDB is not running; skipped"; continue; fi
      mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS wxauth_bench; CREATE DATABASE wxauth_bench"
      ./target/release/wxauth-bench "${steady[@]}" --database "mysql://root@127.0.0.1:3306/wxauth_bench" --json bench/results/mysql.json
      mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS wxauth_bench" ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
