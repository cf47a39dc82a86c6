#!/bin/bash
# The main job, for real and narrated: a test guest with a failover pair
# (virtio standby + an emulated stand-in for a VF), live-migrated between two
# QEMUs that are managed by two failoverd daemons acting as two hosts.
# Everything runs on this machine under TCG; nothing is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/private-bus.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

eval "$(tests/guest/build-guest.sh failover)"
command -v socat >/dev/null || die "socat is missing (make deps installs it)"

work=$(mktemp -d /tmp/failoverd-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in its own process group; remembers it for cleanup.
spawn() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 </dev/null &
	pids+=("$!")
}

# qmp SOCKET JSON... : send commands on the demo's own monitor, print replies.
qmp() {
	local sock=$1
	shift
	{
		echo '{"execute": "qmp_capabilities"}'
		printf '%s\n' "$@"
		sleep 0.2
	} | socat - "UNIX-CONNECT:$sock" | grep -v '"QMP"' || true
}

pair_get() { # HOST KEY
	sed -n "s/^$2=//p" "$work/$1/state/pairs/vm1@p0" 2>/dev/null || true
}

wait_state() { # HOST STATE SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(pair_get "$1" state)" = "$2" ] && return 0
		sleep 0.1
	done
	die "$1: pair vm1/p0 did not become $2 (it is '$(pair_get "$1" state)': $(pair_get "$1" reason))"
}

# The guest prints its NICs on the serial console (FOVD-NET lines).
show_guest_nics() {
	local log=$1 i
	for ((i = 0; i < 600; i++)); do
		if awk '/FOVD-NET-BEGIN/ { n = "" } /^FOVD-NET / { n = n "\n" $0 }
			/FOVD-NET-END/ { last = n } END { exit !(last ~ /drv=net_failover/ &&
			last ~ /drv=e1000e master=eth/) }' "$log" 2>/dev/null; then
			awk '/FOVD-NET-BEGIN/ { n = "" } /^FOVD-NET / { n = n "    " $0 "\n" }
				/FOVD-NET-END/ { last = n } END { printf "%s", last }' "$log"
			return 0
		fi
		sleep 0.1
	done
	die "the guest did not show a bonded pair in $log"
}

guest() { # NAME EXTRA...
	local name=$1
	shift
	spawn "$work/$name.qemu.log" qemu-system-x86_64 -accel tcg -M q35 -m 256 -smp 1 \
		-nodefaults -display none -name vm1 \
		-kernel "$FOVD_GUEST_KERNEL" -initrd "$FOVD_GUEST_INITRD" \
		-append "console=ttyS0 quiet panic=-1" -serial "file:$work/$name.serial" \
		-qmp "unix:$work/$name.qmp,server=on,wait=off" \
		-qmp "unix:$work/$name-demo.qmp,server=on,wait=off" \
		-qmp "unix:$work/$name-events.qmp,server=on,wait=off" \
		-device pcie-root-port,id=rp1,chassis=1,slot=1 \
		-device pcie-root-port,id=rp2,chassis=2,slot=2 \
		-device pcie-root-port,id=rp3,chassis=3,slot=3 \
		-netdev user,id=hn0,restrict=on \
		-device virtio-net-pci,id=net0,netdev=hn0,mac=52:54:00:aa:bb:01,bus=rp1,failover=on \
		"$@"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$work/$name-events.qmp" ] && break
		sleep 0.1
	done
	[ -S "$work/$name-events.qmp" ] || die "QEMU $name did not start: $(cat "$work/$name.qemu.log")"
	# Record every event with QEMU's timestamp, for the summary.
	spawn "$work/$name.events" sh -c "{ echo '{\"execute\": \"qmp_capabilities\"}'; \
		echo '{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}'; \
		exec sleep 100000; } | socat - UNIX-CONNECT:$work/$name-events.qmp"
}

# A private bus per "host": failoverctl talks to its own failoverd.
bus() { # NAME
	mkdir -p "$work/$1"
	private_bus_conf "$work/$1/bus.sock" >"$work/$1/bus.conf"
	spawn "$work/$1/dbus.log" dbus-daemon --nofork --nopidfile --config-file="$work/$1/bus.conf"
	local i
	for ((i = 0; i < 50; i++)); do
		[ -S "$work/$1/bus.sock" ] && return 0
		sleep 0.1
	done
	die "dbus-daemon for $1 did not start: $(cat "$work/$1/dbus.log")"
}

ctl() { # HOST ARGS...
	local h=$1
	shift
	echo "  \$ failoverctl $*   # on $h"
	build/failoverctl --bus-address="unix:path=$work/$h/bus.sock" "$@" | sed 's/^/    /'
}

host() { # NAME QMP
	bus "$1"
	mkdir -p "$work/$1/etc/failoverd"
	cat >"$work/$1/etc/failoverd/emu.pool" <<EOF
[Pool]
Driver=emulated
Model=e1000e
Size=4
EOF
	# The instance only; the pair comes through failoverctl.
	cat >"$work/$1/etc/failoverd/vm1.vm" <<EOF
[Instance]
Name=vm1
QMP=$2
PrepareIncoming=no
EOF
	spawn "$work/$1.log" build/failoverd --root "$work/$1" --state-dir "$work/$1/state" \
		--bus="unix:path=$work/$1/bus.sock"
	local i daemon=${pids[-1]}
	for ((i = 0; i < 100; i++)); do
		build/failoverctl --bus-address="unix:path=$work/$1/bus.sock" status >/dev/null 2>&1 &&
			break
		kill -0 "$daemon" 2>/dev/null || die "failoverd on $1 exited: $(cat "$work/$1.log")"
		sleep 0.1
	done
	# Stream every transition as it happens (own process group: cleaned up).
	setsid sh -c "exec build/failoverctl --bus-address='unix:path=$work/$1/bus.sock' monitor 2>/dev/null |
		sed -u -n 's/^[0-9-]* \([0-9:.]*\)  */    [$1 \1] /p'" &
	pids+=("$!")
	sleep 0.3
}

say "host-a: booting the guest (virtio-net standby net0, failover=on) under TCG"
guest src
host host-a "$work/src.qmp"
say "host-a: attach pair p0 (an emulated VF from pool 'emu' + the standby net0)"
ctl host-a attach vm1 p0 --pool=emu --mac=52:54:00:aa:bb:01 --standby=net0
wait_state host-a active 120
echo "  the guest's own view (serial console): net_failover bonds virtio + e1000e"
show_guest_nics "$work/src.serial"

say "host-b: destination QEMU started with -incoming defer; the pair is declared there too"
guest dst -incoming defer
host host-b "$work/dst.qmp"
ctl host-b attach vm1 p0 --pool=emu --mac=52:54:00:aa:bb:01 --standby=net0
wait_state host-b waiting 30
say "host-b: prepare-incoming: VF reserved and primary pre-staged before the stream arrives"
ctl host-b prepare-incoming vm1
wait_state host-b incoming 30

say "live migration host-a -> host-b (over a unix socket)"
qmp "$work/dst-demo.qmp" "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"unix:$work/mig.sock\"}}" >/dev/null
qmp "$work/src-demo.qmp" "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:$work/mig.sock\"}}" >/dev/null
wait_state host-b active 120
wait_state host-a migrated 60
echo "  the guest's own view on host-b: bonded again, on host-b's VF"
show_guest_nics "$work/dst.serial"

say "host-a: the source QEMU quits; failoverd releases its VF"
qmp "$work/src-demo.qmp" '{"execute": "quit"}' >/dev/null
wait_state host-a released 10

say "summary"
ctl host-a pairs
ctl host-b pairs
# QEMU's own event timestamps (seconds.microseconds, wall clock).
ev_time() { # FILE EVENT
	sed -n "s/.*\"seconds\": \([0-9]*\), \"microseconds\": \([0-9]*\)}, \"event\": \"$2\".*/\1.\2/p" "$1" |
		head -n1 | awk -F. '{ printf "%d.%06d\n", $1, $2 }'
}
unplug=$(ev_time "$work/src.events" UNPLUG_PRIMARY)
resume=$(ev_time "$work/dst.events" RESUME)
echo "  host-a pair p0: $(pair_get host-a state) ($(pair_get host-a reason))"
echo "  host-b pair p0: $(pair_get host-b state) on VF $(pair_get host-b vf)"
if [ -n "$unplug" ] && [ -n "$resume" ]; then
	awk -v u="$unplug" -v r="$resume" 'BEGIN { printf "  degraded window: %.1f ms (source UNPLUG_PRIMARY -> destination RESUME with the pre-staged primary plugged at load)\n", (r - u) * 1000 }'
fi
echo
