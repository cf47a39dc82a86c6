#!/bin/bash
# Run the model tier's runner in its own session under a hard timeout, then
# kill whatever is left in that session (daemons, doubles, dbus-daemons).
set -u
limit=$1
shift
setsid timeout -k 5 "$limit" "$@" &
pid=$!
wait $pid
rc=$?
kill -KILL -- -"$pid" 2>/dev/null
[ "$rc" = 124 ] && echo "!! model: timed out after $limit s"
exit $rc
