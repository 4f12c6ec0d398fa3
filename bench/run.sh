#!/usr/bin/env bash
# Builds release binaries and benchmarks wxauth on SQLite, then PostgreSQL (when reachable).
#   bash bench/run.sh              # both
#   bash bench/run.sh sqlite       # one
# Results: a printed summary per database, JSON in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p wxauth-server -p wxauth-bench
mkdir -p bench/results
targets=("${@:-sqlite postgres}")
for target in ${targets[@]}; do
  case "$target" in
    sqlite)
      ./target/release/wxauth-bench --database sqlite --json bench/results/sqlite.json ;;
    postgres)
      url="${WXAUTH_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
      if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then echo "PostgreSQL is not running; skipped"; continue; fi
      psql "$url/postgres" -qc "DROP DATABASE IF EXISTS wxauth_bench" -qc "CREATE DATABASE wxauth_bench"
      ./target/release/wxauth-bench --database "$url/wxauth_bench" --json bench/results/postgres.json
      psql "$url/postgres" -qc "DROP DATABASE IF EXISTS wxauth_bench" ;;
    mysql)
      mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS wxauth_bench; CREATE DATABASE wxauth_bench"
      ./target/release/wxauth-bench --database "mysql://root@127.0.0.1:3306/wxauth_bench" --json bench/results/mysql.json
      mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS wxauth_bench" ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
