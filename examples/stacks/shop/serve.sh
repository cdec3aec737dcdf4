#!/bin/sh
# Tiny stand-ins for the shop's services, made of busybox applets only.
#   serve.sh db PORT DIR   keeps a "database" file in DIR and answers on PORT
#   serve.sh cache PORT    answers PONG on PORT
#   serve.sh api PORT      answers a one-line JSON status on PORT
set -eu
role=$1
port=$2
case "$role" in
  db)
    mkdir -p "$3"
    echo "started $(date)" >> "$3/db.log"
    reply="db ${DB_NAME:-none} ok"
    ;;
  cache) reply="+PONG" ;;
  api) reply='{"status":"ok"}' ;;
  *) echo "unknown role $role" >&2; exit 2 ;;
esac
echo "$role listening on $port"
# As PID 1 the shell ignores SIGTERM unless it traps it; `wait` lets the trap run at once.
child=
trap '[ -n "$child" ] && kill "$child" 2>/dev/null; echo "$role stopping"; exit 0' TERM INT
while true; do
  echo "$reply" | nc -l -p "$port" > /dev/null &
  child=$!
  wait "$child" || sleep 1
done
