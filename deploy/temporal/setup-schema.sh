#!/bin/sh
# Creates, or upgrades, Temporal's two PostgreSQL databases: persistence and visibility; and creates the
# store of record's, `orders`, whose tables the API and the workers migrate at start. Compose runs it in
# temporalio/admin-tools; `npm run test:cluster` runs it with the Go-built tool and the module's schema
# files (the variables below).
set -eu
SQL_TOOL="${SQL_TOOL:-temporal-sql-tool}"
SQL_HOST="${SQL_HOST:-postgresql}"
SQL_PORT="${SQL_PORT:-5432}"
SQL_USER="${SQL_USER:-temporal}"
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"   # SQL_PASSWORD comes from the environment

setup() {
  db="$1"
  versions="$2"
  sql() { "$SQL_TOOL" --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --db "$db" "$@"; }
  sql create-database 2>/dev/null || echo "database $db exists"
  # A first run lays the base schema; on a re-run it is there already and update-schema alone upgrades.
  sql setup-schema -v 0.0 2>/dev/null || echo "schema of $db exists"
  sql update-schema -d "$versions"
}

setup temporal "$SCHEMA_DIR/temporal/versioned"
setup temporal_visibility "$SCHEMA_DIR/visibility/versioned"
"$SQL_TOOL" --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --db orders create-database 2>/dev/null ||
  echo "database orders exists"
echo "schemas ready"
