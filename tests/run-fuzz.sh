#!/bin/bash
# Runs libFuzzer targets one after the other, each for SECONDS:
#   tests/run-fuzz.sh SECONDS BUILD_DIR TARGET...
# Seeds come from tests/fuzz/corpus/NAME (only read); what the run finds
# goes to BUILD_DIR/corpus/NAME, crashing inputs to BUILD_DIR/artifacts/.
# Prints one line of figures per target and fails if any target failed
# (a crash, a sanitizer report, a leak or a timeout).
set -u
secs=$1 dir=$2
shift 2
# The targets write small files (and fsync them): keep that off the disk.
base=${TMPDIR:-}
if [ -z "$base" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	base=/dev/shm
fi
# Each target's own directory goes when it exits, even after a crash.
tmp=$(mktemp -d "${base:-/tmp}/failoverd-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
mkdir -p "$dir/artifacts"
failed=0
for t in "$@"; do
	name=$(basename "$t")
	corpus=$dir/corpus/$name
	log=$dir/$name.log
	mkdir -p "$corpus"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$dir/artifacts/$name-")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
	"$t" "${args[@]}" "$corpus" "tests/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	rm -rf "${tmp:?}"/*
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	stats=$(grep -E '^#[0-9]+' "$log" | tail -n1)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
	corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$stats")
	if [ "$rc" = 0 ]; then
		echo "fuzz: $name: ${execs:-?} runs in ${secs} s (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, no crash"
	else
		failed=1
		echo "!! fuzz: $name failed (exit $rc) after ${execs:-?} runs; log $log"
		grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" | head -n 20
	fi
done
[ "$failed" = 0 ]
