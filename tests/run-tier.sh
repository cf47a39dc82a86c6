#!/bin/bash
# Run one test tier: each binary in its own session (process group) under a
# hard timeout; whatever it leaves behind in that group is killed afterwards.
# Prints Check's per-binary lines and one closing "tier: N passed, N failed".
set -u
tier=$1 limit=$2
shift 2
passed=0 failed=0 broken=0
start=$(date +%s)
for t in "$@"; do
	name=${t#*/tests/}
	echo "== $tier: $name"
	log=$(mktemp)
	if [ "${VALGRIND:-0}" = 1 ]; then
		export CK_TIMEOUT_MULTIPLIER=20
		# Children too, but not the system's programs (sh, nm, ...): valgrind
		# checks our code, and ld.so's own strncmp over-reads are not ours.
		cmd=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
			--show-leak-kinds=definite --trace-children=yes
			--trace-children-skip='/usr/*,/bin/*,/sbin/*' "$t")
	else
		cmd=("$t")
	fi
	setsid timeout -k 5 "$limit" "${cmd[@]}" > >(tee "$log") 2>&1 &
	pid=$!
	wait $pid
	rc=$?
	# The session leader's pid is the process group id.
	kill -KILL -- -"$pid" 2>/dev/null
	sleep 0.1
	line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n1)
	rm -f "$log"
	if [ -n "$line" ]; then
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + n - f - e))
		failed=$((failed + f + e))
	fi
	if [ "$rc" != 0 ]; then
		echo "!! $tier: $name exited with status $rc"
		[ -z "$line" ] && failed=$((failed + 1))
		broken=1
	fi
done
echo "== $tier tier: $(($(date +%s) - start)) s"
echo "$tier: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$broken" = 0 ]
