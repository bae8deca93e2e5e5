#!/usr/bin/env bash
# Applies every migration, reverts them all, applies them again, on a scratch database next to TEST_DATABASE_URL.
set -euo pipefail
base="${TEST_DATABASE_URL:?TEST_DATABASE_URL must be set}"
db="hazwatch_ci_migrate_$$"
admin_url="$base"
scratch_url="${base%/*}/${db}"
psql "$admin_url" -qc "CREATE DATABASE ${db}"
trap 'psql "$admin_url" -qc "DROP DATABASE IF EXISTS ${db}" >/dev/null' EXIT
DATABASE_URL="$scratch_url" node dist/src/storage/migrate.cli.js up
DATABASE_URL="$scratch_url" node dist/src/storage/migrate.cli.js down all
left=$(psql "$scratch_url" -Atc "SELECT count(*) FROM information_schema.tables WHERE table_schema='public' AND table_name <> 'pgmigrations'")
if [ "$left" != "0" ]; then echo "down migrations left $left tables behind" >&2; exit 1; fi
DATABASE_URL="$scratch_url" node dist/src/storage/migrate.cli.js up
echo "migrations: up, down, up OK"
