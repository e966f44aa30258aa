#!/bin/sh
# Resource agent for the demo database (scripts/demo-db.ts); see docs/resources.md.
# ycs runs it as `demo-db-agent.sh start|stop|monitor|promote|demote` with YCS_RESOURCE,
# YCS_HOST_ID, YCS_EPOCH, YCS_ROLE and YCS_HB_SOCKET set. From the resource's `env`:
#   DEMO_DB_SCRIPT  path of dist/scripts/demo-db.js
#   DEMO_DB_DATA    the data file it appends to while primary
#   DEMO_DB_RUN     directory for its pid file and log
# The role itself travels over heartbeat 2, so promote and demote only check that the
# database runs: it learns the new role from ycs within one round trip.
set -u
: "${DEMO_DB_SCRIPT:?}" "${DEMO_DB_DATA:?}" "${DEMO_DB_RUN:?}"
pidfile="$DEMO_DB_RUN/$YCS_RESOURCE.pid"

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "${1:-}" in
  start)
    running && exit 0
    mkdir -p "$DEMO_DB_RUN"
    # setsid: the database outlives this agent and a ycs restart; output goes to a log,
    # never to the agent's pipes.
    setsid "${NODE:-node}" "$DEMO_DB_SCRIPT" --data "$DEMO_DB_DATA" \
      >>"$DEMO_DB_RUN/$YCS_RESOURCE.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    exit 0
    ;;
  stop)
    running || { rm -f "$pidfile"; exit 0; }
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pidfile"
    exit 0
    ;;
  monitor)
    running || exit 7
    exit 0
    ;;
  promote|demote)
    running || exit 7
    exit 0
    ;;
  *)
    echo "usage: $0 start|stop|monitor|promote|demote" >&2
    exit 1
    ;;
esac
