#!/bin/bash
# The real-kernel tier: boots the SR-IOV test guest once (QEMU's igb with 7
# VFs behind a vIOMMU, Debian's kernel, this host's root read-only over 9p)
# and runs every given test binary inside it, in a chroot of the host root.
# The serial console is streamed; Check's lines are counted into one closing
# "kernel: N passed, N failed". Non-zero exit when anything failed.
#
#   flock /tmp/failoverd-tcg.lock tests/run-kernel-tier.sh build/tests/*/kernel-*
#
# The caller holds the TCG lock (make check-kernel is run under it), as for
# the other guest tiers. FOVD_KERNEL_TIMEOUT: hard limit for the whole boot;
# FOVD_TEST_TIMEOUT: per binary. tests/run-full-tier.sh reuses this runner
# with FOVD_TIER (the name printed), FOVD_TIER_CWD (where the binaries run)
# and FOVD_TIER_ENV (shell exports for them).
set -u
limit=${FOVD_KERNEL_TIMEOUT:-1200}
tier=${FOVD_TIER:-kernel}
test_limit=${FOVD_TEST_TIMEOUT:-600}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -gt 0 ] || {
	echo "usage: $0 TEST-BINARY..." >&2
	exit 2
}

guest=$("$here/guest/build-guest.sh" igb) || {
	echo "!! kernel: cannot build the igb test guest" >&2
	exit 1
}
eval "$guest"

work=$(mktemp -d /tmp/fovd-kernel-tier.XXXXXX)
chmod 0755 "$work"
qpid=
tpid=
cleanup() {
	[ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The guest sees this host's /tmp (read-only, under a writable overlay), so
# the script and the binaries are reachable by their host paths.
script=$work/run.sh
{
	printf 'cd %q || exit 1\n' "${FOVD_TIER_CWD:-/tmp}"
	[ -n "${FOVD_TIER_ENV:-}" ] && printf '%s\n' "$FOVD_TIER_ENV"
	for t in "$@"; do
		abs=$(readlink -f "$t")
		[ -x "$abs" ] || {
			echo "!! $tier: $t is not an executable" >&2
			exit 2
		}
		name=${abs#*/tests/}
		printf 'echo "== %s: %s"\n' "$tier" "$name"
		printf 'timeout -k 5 %s %q </dev/null 2>&1\n' "$test_limit" "$abs"
		printf 'echo "FOVD-TEST-RC %s $?"\n' "$name"
	done
	echo 'exit 0'
} >"$script"
chmod 0755 "$script"

log=$work/serial.log
: >"$log"
start=$(date +%s)
echo "== $tier: booting the igb guest ($(basename "$FOVD_GUEST_KERNEL"))"
timeout -k 5 "$limit" qemu-system-x86_64 -accel tcg -M q35,kernel-irqchip=split -m 2048 -smp 2 \
	-nodefaults -display none -no-reboot -serial "file:$log" \
	-device intel-iommu,intremap=on,caching-mode=on \
	-kernel "$FOVD_GUEST_KERNEL" -initrd "$FOVD_GUEST_INITRD" \
	-append "console=ttyS0 quiet panic=-1 intel_iommu=on fovd.script=$script" \
	-device pcie-root-port,id=rp1,chassis=1,slot=1 \
	-device igb,bus=rp1,netdev=n1 -netdev user,id=n1 \
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on \
	</dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
tail -n +1 -f --pid="$qpid" "$log" &
tpid=$!
wait "$qpid"
qrc=$?
qpid=
wait "$tpid" 2>/dev/null
tpid=

passed=0 failed=0 broken=0
if ! grep -q '^FOVD-EXIT=' "$log"; then
	echo "!! $tier: the guest did not finish (QEMU status $qrc)"
	sed 's/^/   qemu: /' "$work/qemu.out"
	broken=1
fi
for t in "$@"; do
	name=$(readlink -f "$t")
	name=${name#*/tests/}
	# Check's summary follows the binary's own "== kernel:" header.
	line=$(tr -d '\r' <"$log" | awk -v n="== $tier: $name" -v h="== $tier: " '$0 == n { on = 1; next }
		index($0, h) == 1 { on = 0 }
		on && /Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ { l = $0 } END { print l }')
	rc=$(tr -d '\r' <"$log" | awk -v n="$name" '$1 == "FOVD-TEST-RC" && $2 == n { print $3 }')
	if [ -n "$line" ]; then
		c=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + c - f - e))
		failed=$((failed + f + e))
	fi
	if [ "${rc:-none}" != 0 ]; then
		echo "!! $tier: $name exited with status ${rc:-unknown}"
		[ -z "$line" ] && failed=$((failed + 1))
		broken=1
	fi
done
echo "== $tier tier: $(($(date +%s) - start)) s"
echo "$tier: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$broken" = 0 ]
