#!/bin/bash
# The system tier: failoverd as a Debian service under a real systemd. Boots
# the SR-IOV test guest (QEMU's igb with 7 VFs behind a vIOMMU, Debian's
# kernel) with this host's root, read-only over 9p, under a tmpfs overlay as
# its / and the host's own systemd as PID 1, dbus-daemon on the real system
# bus. systemd runs tests/system/inside.sh (systemd.run=), which installs the
# .deb and checks the service as an operator would; one line per check is
# streamed and counted into "system: N passed, N failed".
#
#   tests/run-system-tier.sh build/deb/failoverd_0.1.0_amd64.deb
#
# Takes the TCG lock itself unless an ancestor already holds it.
# FOVD_SYSTEM_TIMEOUT: hard limit for the whole boot (s).
set -u
limit=${FOVD_SYSTEM_TIMEOUT:-900}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# = 1 ] && [ -f "$1" ] || {
	echo "usage: $0 DEB" >&2
	exit 2
}
deb=$(readlink -f "$1")
# shellcheck source=tests/lib/tcg-lock.sh
. "$here/lib/tcg-lock.sh"
if ! lock_held_by_ancestor; then
	echo "== system: waiting for the TCG lock $lock" >&2
	exec flock "$lock" "$0" "$@"
fi

guest=$("$here/guest/build-guest.sh" igb) || {
	echo "!! system: cannot build the igb test guest" >&2
	exit 1
}
eval "$guest"

# Not below /tmp: the VM's systemd gives it a fresh /tmp. The directory is
# on the host's root, so the VM sees it (and its writes stay in the VM).
work=$(mktemp -d "${FOVD_SYSTEM_WORK:-/var/lib/failoverd-test}/system.XXXXXX" 2>/dev/null ||
	{ mkdir -p /var/lib/failoverd-test && mktemp -d /var/lib/failoverd-test/system.XXXXXX; })
chmod 0755 "$work"
# The VM's systemd mounts its own /tmp: what it runs must be outside it (a
# checkout under /tmp is hidden there), so the script and the package are
# copied here.
cp "$here/system/inside.sh" "$work/inside.sh"
cp "$deb" "$work/"
deb=$work/$(basename "$deb")
qpid=
tpid=
cleanup() {
	# TERM to timeout(1), which passes it on to QEMU (a KILL would orphan QEMU).
	[ -n "$qpid" ] && kill -TERM "$qpid" 2>/dev/null
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log=$work/serial.log
: >"$log"
start=$(date +%s)
echo "== system: booting the igb guest with systemd as PID 1 ($(basename "$FOVD_GUEST_KERNEL"))"
timeout -k 5 "$limit" qemu-system-x86_64 -accel tcg -M q35,kernel-irqchip=split -m 3072 -smp 2 \
	-nodefaults -display none -no-reboot -serial "file:$log" \
	-device intel-iommu,intremap=on,caching-mode=on \
	-kernel "$FOVD_GUEST_KERNEL" -initrd "$FOVD_GUEST_INITRD" \
	-append "console=ttyS0 quiet panic=-1 intel_iommu=on fovd.systemd systemd.show_status=0 \
systemd.run=\"$work/inside.sh $deb $work\" systemd.run_success_action=poweroff-force \
systemd.run_failure_action=poweroff-force" \
	-device pcie-root-port,id=rp1,chassis=1,slot=1 \
	-device igb,bus=rp1,netdev=n1 -netdev user,id=n1,restrict=on \
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
	</dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
# Only the checks' lines (and the tier's own markers), not the boot.
tail -n +1 -f --pid="$qpid" "$log" | grep --line-buffered -E '^(ok|not ok|#|FOVD-)' &
tpid=$!
wait "$qpid"
qrc=$?
qpid=
wait "$tpid" 2>/dev/null
tpid=

out=$(tr -d '\r' <"$log")
passed=$(grep -c '^ok ' <<<"$out")
failed=$(grep -c '^not ok ' <<<"$out")
broken=0
if ! grep -q '^FOVD-EXIT=' <<<"$out"; then
	echo "!! system: the VM did not finish (QEMU status $qrc); its console's last lines:"
	tail -n 30 <<<"$out" | sed 's/^/   /'
	sed 's/^/   qemu: /' "$work/qemu.out"
	broken=1
fi
echo "== system tier: $(($(date +%s) - start)) s"
echo "system: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$broken" = 0 ] && [ "$passed" -gt 0 ]
