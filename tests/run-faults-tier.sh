#!/bin/bash
# The fault-injection tier: the host binaries (real QEMUs, emulated pool)
# through run-tier.sh, then the VF-path binaries inside the igb guest through
# run-kernel-tier.sh. Every injected fault prints a line
#   FOVD-FAULT <what>: <host> held=N leaked=N double=N incomplete=N [steered=N]
# with counts its test computed by auditing VF owners and settings; this
# script adds them up into the tier's closing line.
#
#   tests/run-faults-tier.sh "HOST-BINARIES..." "IGB-GUEST-BINARIES..."
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
host_tests=$1 kernel_tests=$2
out=$(mktemp /tmp/fovd-faults.XXXXXX)
trap 'rm -f "$out"' EXIT
st=0
start=$(date +%s)
if [ -n "$host_tests" ]; then
	# shellcheck disable=SC2086 # word splitting wanted: a list of binaries
	"$here/run-tier.sh" faults 1800 $host_tests | tee -a "$out"
	[ "${PIPESTATUS[0]}" = 0 ] || st=1
fi
if [ -n "$kernel_tests" ]; then
	# shellcheck disable=SC2086
	FOVD_TIER=faults-kernel "$here/run-kernel-tier.sh" $kernel_tests | tee -a "$out"
	[ "${PIPESTATUS[0]}" = 0 ] || st=1
fi
tr -d '\r' <"$out" | awk -v secs=$(($(date +%s) - start)) '
	/FOVD-FAULT / {
		n++
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "leaked") leaked += kv[2]
			if (kv[1] == "double") dbl += kv[2]
			if (kv[1] == "incomplete") inc += kv[2]
			if (kv[1] == "steered") steered += kv[2]
		}
	}
	END {
		printf "faults injected: %d, VFs leaked: %d, VFs double-assigned: %d, restores incomplete: %d, steering left behind: %d (%d s)\n",
			n, leaked, dbl, inc, steered, secs
		if (n == 0) exit 1
	}' || st=1
exit $st
