#!/usr/bin/env bash
# After a test run: no PostgreSQL started by the test harness may still run, and no data
# directory of one may remain. Exit 1 (and say what is left) otherwise.
base=${STORX_TEST_PG_BASE_DIR:-/tmp/storx-test-pg}
status=0
if pgrep -f -- "$base/" >/dev/null 2>&1; then
  echo "test harness left PostgreSQL processes running:"
  pgrep -af -- "$base/"
  status=1
fi
if [ -d "$base" ] && [ -n "$(ls -A "$base" 2>/dev/null)" ]; then
  echo "test harness left data directories in $base:"
  ls -A "$base"
  status=1
fi
exit $status
