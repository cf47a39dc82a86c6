#!/bin/bash
# make check-libvirt: the libvirt recipe of docs/integrations.md, run for
# real. libvirtd and virtlogd are started here, by hand (their sockets, pid
# files and logs in this run's directory), and a failoverd on a private
# dbus-daemon with [Daemon] ListenQMP= (group libvirt-qemu, mode 0660) and
# the emulated pool. A TCG domain boots the failover test guest from its
# kernel and initramfs: a <teaming type='persistent'/> virtio standby on
# pci.1, pci.2 for libvirt's own hot-plug, pci.3 for failoverd's primary
# (PrimaryBus=), and <qemu:commandline> dialling failoverd's socket. Its
# QEMU runs as libvirt's unprivileged user. Prints each check as it passes
# and "libvirt: N passed, N failed".
#
# libvirtd and virtlogd run in a mount namespace of their own, where this
# run's directory stands in for /etc/libvirt (its libvirtd.conf, a copy of
# the installed qemu.conf, the hook docs/examples/libvirt-hook-qemu in
# hooks/qemu.d/), /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
# /var/cache/libvirt: nothing of the machine's libvirt is read or written,
# and a libvirtd already running here is left alone. /dev/kvm, if there is
# one, is hidden from them by an empty file: libvirt probes QEMU with
# accel=kvm:tcg (guests here run under TCG only), and a /dev/kvm root may
# open but libvirt-qemu may not makes libvirt 9.0 probe QEMU again at every
# lookup (a virsh define took a minute). libvirt cannot carry that file into
# the private /dev it makes for each QEMU ("Unable to move ... mount to
# /dev/kvm"), so then the copy of qemu.conf says namespaces = [].
#
# One TCG guest: the run holds the TCG lock, taking it itself unless an
# ancestor (flock /tmp/failoverd-tcg.lock make check) already does.
# Every process it starts is stopped when it ends, whatever the exit.
# FOVD_LIBVIRT_KEEP=1 keeps the run's directory (logs, console, hook log).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
. scripts/private-bus.sh

bin=$(cd "${FOVD_BUILD_DIR:-build}" && pwd)
limit=${FOVD_LIBVIRT_TIMEOUT:-600}
name=fovd-libvirt
mac=52:54:00:aa:bb:01
passed=0
t0=$(date +%s)

# --- output ---------------------------------------------------------------------

ok() {
	passed=$((passed + 1))
	echo "libvirt: ok: [+$(($(date +%s) - t0)) s] $*"
}
note() { echo "libvirt: $*"; }
show() { sed 's/^/      /'; }
fail() {
	echo "libvirt: FAIL: $*" >&2
	diagnostics >&2
	echo "libvirt: $passed passed, 1 failed"
	exit 1
}

for tool in virsh libvirtd virtlogd dbus-daemon setsid flock unshare; do
	command -v "$tool" >/dev/null || {
		echo "libvirt tier: $tool is missing (run make deps)" >&2
		exit 1
	}
done
[ -x "$bin/failoverd" ] && [ -x "$bin/failoverctl" ] || {
	echo "libvirt tier: $bin/failoverd or failoverctl is missing (run make)" >&2
	exit 1
}
id -u libvirt-qemu >/dev/null 2>&1 || {
	echo "libvirt tier: no user libvirt-qemu (libvirt-daemon-system makes it; run make deps)" >&2
	exit 1
}
guest=$(tests/guest/build-guest.sh failover) || {
	echo "libvirt tier: cannot build the failover test guest" >&2
	exit 1
}
eval "$guest"

# --- the TCG lock ---------------------------------------------------------------

# shellcheck source=tests/lib/tcg-lock.sh
. tests/lib/tcg-lock.sh
if ! lock_held_by_ancestor; then
	echo "== libvirt: waiting for the TCG lock $lock" >&2
	exec 9>>"$lock"
	flock 9
fi
t0=$(date +%s)

# --- processes and cleanup ------------------------------------------------------

work=$(mktemp -d /tmp/failoverd-libvirt.XXXXXX)
# libvirt-qemu must reach failoverd's socket below it.
chmod 0755 "$work"
uri='' qemu_pid='' watchdog=''
groups=()
fovd_pid=''

# The domain's QEMU, if $1 still is it (a pid libvirt wrote, not our child).
is_our_qemu() {
	[ -n "$1" ] && { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q -- "-name guest=$name,"
}

stop_pidfile() { # FILE
	local p i
	p=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
}

# (Its stderr is quiet: bash would report every group it kills.)
cleanup() {
	set +e
	exec 3>&2 2>/dev/null
	[ -n "$watchdog" ] && kill -KILL -- "-$watchdog" 2>/dev/null
	if [ -n "$uri" ]; then
		timeout 30 virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1
		timeout 30 virsh -q -c "$uri" undefine "$name" >/dev/null 2>&1
	fi
	is_our_qemu "$qemu_pid" && kill -KILL "$qemu_pid"
	for g in "${groups[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null
	done
	stop_pidfile "$work/libvirtd.pid"
	stop_pidfile "$work/virtlogd.pid"
	wait 2>/dev/null
	if [ -n "${FOVD_LIBVIRT_KEEP:-}" ]; then
		echo "libvirt: kept $work" >&3
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A hard limit for the whole run (the lock's wait excluded).
setsid sh -c 'sleep "$1"; echo "libvirt: FAIL: no result after $1 s" >&2; kill -TERM "$2"' \
	sh "$limit" $$ </dev/null 9>&- &
watchdog=$!

# Starts "$@" in its own process group (killed at the end), stdout+stderr to LOG.
spawn() { # LOG CMD...
	local log=$1
	shift
	setsid "$@" >>"$log" 2>&1 </dev/null 9>&- &
	groups+=("$!")
}

diagnostics() {
	local f
	for f in "$work/failoverd.log" "$work/libvirtd.log" "$work/libvirt/log/qemu/$name.log" \
		"$work/serial.log" "$work/hook.log"; do
		[ -s "$f" ] || continue
		echo "--- last lines of $f"
		tail -n 25 "$f"
	done
}

vsh() { timeout 120 virsh -q -c "$uri" "$@"; }
ctl() { "$bin/failoverctl" --bus-address="unix:path=$work/bus.sock" "$@"; }
libvirt_up() { vsh version >/dev/null 2>&1; }
failoverd_up() { ctl status >/dev/null 2>&1; }

# wait_for SECONDS WHAT CMD...: until CMD succeeds.
wait_for() {
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	fail "$what (after $secs s)"
}

# The pair's state and VF ("active emu0"), and the pool's "FREE TOTAL".
pair() { ctl --no-legend pairs "$name" 2>/dev/null | awk '$2 == "p0" { print $3, $5 }'; }
pool() { ctl --no-legend pools 2>/dev/null | awk '$1 == "emu" { print $4, $5 }'; }
pair_is() { [ "$(pair)" = "$1" ]; }
wait_pair() { # SECONDS "STATE VF" WHAT
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		pair_is "$2" && return 0
		sleep 0.2
	done
	fail "$3: pair p0 is '$(pair)', not '$2' after $1 s ($(ctl status "$name/p0" | awk '$1 == "LastError:"'))"
}
since_usec() { ctl --json pairs "$name" | sed -n 's/.*"state_changed_usec": *\([0-9]*\).*/\1/p'; }

# The guest's last complete network snapshot on its serial console after
# byte OFFSET (its /init prints one on every change and every ~5 s).
snapshot() { # OFFSET
	tail -c +"$(($1 + 1))" "$work/serial.log" 2>/dev/null | tr -d '\r' |
		awk '/^FOVD-NET-BEGIN/ { n = "" } /^FOVD-NET / { n = n $0 "\n" } /^FOVD-NET-END/ { last = n }
			END { printf "%s", last }'
}
# Bonded: net_failover over the virtio standby and the e1000e primary.
bonded() { # OFFSET
	local s
	s=$(snapshot "$1")
	grep -Eq "drv=net_failover master=- slaves=[^ ]+ mac=$mac" <<<"$s" &&
		grep -Eq "drv=virtio_net master=eth[0-9]+ slaves=- mac=$mac" <<<"$s" &&
		grep -Eq "drv=e1000e master=eth[0-9]+ slaves=- mac=$mac" <<<"$s"
}
serial_size() { stat -c %s "$work/serial.log" 2>/dev/null || echo 0; }

# QEMU's own view of its PCI devices: "ID BUS" per line.
qemu_pci() {
	vsh qemu-monitor-command "$name" --hmp 'info pci' | tr -d '\r' |
		awk '/^ *Bus +[0-9]+,/ { b = $2; sub(",", "", b) } /^ *id "/ { id = $2; gsub("\"", "", id); print id, b }'
}

hook_log_has() { grep -q -- "$1" "$work/hook.log" 2>/dev/null; }

# --- libvirt ---------------------------------------------------------------------

for p in libvirtd virtqemud; do
	if pgrep -x "$p" >/dev/null; then
		note "a $p (pid $(pgrep -x "$p" | head -n1)) runs here: this run's libvirtd shares nothing with it"
	fi
done
lv=$work/libvirt
mkdir -p "$lv"/{etc/hooks/qemu.d,run,lib,log,cache} "$work/sock"
[ -r /etc/libvirt/qemu.conf ] || fail "no /etc/libvirt/qemu.conf (libvirt-daemon-system ships it; run make deps)"
cp /etc/libvirt/qemu.conf "$lv/etc/"
cat >"$lv/etc/virtlogd.conf" <<EOF
log_outputs = "3:file:$work/virtlogd.log"
EOF
cat >"$lv/etc/libvirtd.conf" <<EOF
unix_sock_dir = "$work/sock"
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$work/libvirtd.log"
EOF
# The shipped example, pointed at this run's failoverd and files.
hook=$lv/etc/hooks/qemu.d/failoverd
sed -e "s|^FAILOVERCTL=.*|FAILOVERCTL=\"$bin/failoverctl --bus-address=unix:path=$work/bus.sock\"|" \
	-e "s|^MARKS=.*|MARKS=$work/hook-marks|" -e "s|^LOG=.*|LOG=$work/hook.log|" \
	-e "s|^TRACE=.*|TRACE=yes|" docs/examples/libvirt-hook-qemu >"$hook"
chmod 0755 "$hook"
[ "$(grep -cE "^(FAILOVERCTL=\"$bin/|MARKS=$work/|LOG=$work/|TRACE=yes$)" "$hook")" = 4 ] ||
	fail "docs/examples/libvirt-hook-qemu lacks one of its settings FAILOVERCTL= MARKS= LOG= TRACE="
: >"$work/no-kvm"
chmod 0600 "$work/no-kvm"
if [ -e /dev/kvm ]; then
	printf '\n# make check-libvirt: /dev/kvm is hidden from libvirtd.\nnamespaces = []\n' >>"$lv/etc/qemu.conf"
	note "/dev/kvm hidden from libvirt (TCG only); its QEMU gets no private /dev (namespaces = [])"
fi
# The namespace lives as long as the two daemons do.
unshare --mount --propagation private sh -euc '
	lv=$1 work=$2
	for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt \
		cache:/var/cache/libvirt; do
		mkdir -p "${d#*:}"
		mount --bind "$lv/${d%%:*}" "${d#*:}"
	done
	[ ! -e /dev/kvm ] || mount --bind "$work/no-kvm" /dev/kvm
	virtlogd -d -f /etc/libvirt/virtlogd.conf -p "$work/virtlogd.pid"
	libvirtd -d -f /etc/libvirt/libvirtd.conf -p "$work/libvirtd.pid"
' sh "$lv" "$work" 9>&- || fail "libvirtd and virtlogd did not start in their mount namespace"
uri="qemu:///system?socket=$work/sock/libvirt-sock"
# The first connection waits for libvirt's probe of QEMU.
wait_for 60 "libvirtd answers on $work/sock/libvirt-sock" libvirt_up
ok "libvirtd $(libvirtd --version | awk '{ print $NF }') and virtlogd started by hand in a mount namespace of their own (/etc/libvirt, /run/libvirt, /var/lib/libvirt, ... from $lv), the hook in /etc/libvirt/hooks/qemu.d/failoverd"

# --- failoverd --------------------------------------------------------------------

mkdir -p "$work/root/etc/failoverd" "$work/state" "$work/fovd"
cat >"$work/root/etc/failoverd/failoverd.conf" <<EOF
[Daemon]
ListenQMP=$work/fovd/qmp.sock
ListenQMPGroup=libvirt-qemu
ListenQMPMode=0660
EOF
cat >"$work/root/etc/failoverd/emu.pool" <<EOF
[Pool]
Driver=emulated
Model=e1000e
Size=2
EOF
# Named after the domain (QEMU's -name guest=); the standby is libvirt's
# device with the user alias; pci.3 is the root port libvirt leaves free.
# PrepareIncoming=no: the hook's case.
cat >"$work/root/etc/failoverd/$name.vm" <<EOF
[Instance]
Name=$name
PrepareIncoming=no

[Pair]
Name=p0
Pool=emu
MACAddress=$mac
Standby=ua-net0
PrimaryBus=pci.3
EOF

private_bus_conf "$work/bus.sock" >"$work/bus.conf"
spawn "$work/dbus.log" dbus-daemon --nofork --nopidfile --config-file="$work/bus.conf"
wait_for 10 "the private dbus-daemon listens" test -S "$work/bus.sock"

start_failoverd() {
	spawn "$work/failoverd.log" "$bin/failoverd" --root "$work/root" --state-dir "$work/state" \
		--bus="unix:path=$work/bus.sock" --log-level=debug
	fovd_pid=${groups[-1]}
	wait_for 10 "failoverd answers on its bus" failoverd_up
}
start_failoverd
sock_perm=$(stat -c '%a %G' "$work/fovd/qmp.sock")
[ "$sock_perm" = "660 libvirt-qemu" ] ||
	fail "ListenQMP= socket is '$sock_perm', not '660 libvirt-qemu'"
ok "failoverd listens on ListenQMP=$work/fovd/qmp.sock, mode 0660, group libvirt-qemu"

# --- the domain ---------------------------------------------------------------------

# libvirt's DAC driver chowns the kernel and initramfs to its QEMU user for
# the domain's life: copies, not the shared cache's files.
cp "$FOVD_GUEST_KERNEL" "$work/vmlinux"
cp "$FOVD_GUEST_INITRD" "$work/initrd.gz"
seclabel=
if vsh capabilities | grep -q '<model>apparmor</model>'; then
	seclabel="<seclabel type='none' model='apparmor'/>"
	note "AppArmor is on: the domain runs unconfined by it (the rule docs/integrations.md gives is not exercised)"
fi
cat >"$work/domain.xml" <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$work/vmlinux</kernel>
    <initrd>$work/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'>
      <target chassis='1' port='0x10'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>
    </controller>
    <controller type='pci' index='2' model='pcie-root-port'>
      <target chassis='2' port='0x11'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/>
    </controller>
    <controller type='pci' index='3' model='pcie-root-port'>
      <target chassis='3' port='0x12'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x2'/>
    </controller>
    <controller type='usb' model='none'/>
    <interface type='user'>
      <mac address='$mac'/>
      <model type='virtio'/>
      <teaming type='persistent'/>
      <alias name='ua-net0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='file'>
      <source path='$work/serial.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  $seclabel
  <qemu:commandline>
    <qemu:arg value='-chardev'/>
    <qemu:arg value='socket,id=fovd,path=$work/fovd/qmp.sock,reconnect-ms=1000'/>
    <qemu:arg value='-mon'/>
    <qemu:arg value='chardev=fovd,mode=control'/>
  </qemu:commandline>
</domain>
EOF
vsh define "$work/domain.xml" >/dev/null || fail "virsh define $work/domain.xml"

# start_domain: virsh start, then the QEMU's pid as libvirt wrote it.
start_domain() {
	vsh start "$name" >/dev/null || fail "virsh start $name"
	qemu_pid=$(cat "$lv/run/qemu/$name.pid" 2>/dev/null) || fail "no /run/libvirt/qemu/$name.pid"
	is_our_qemu "$qemu_pid" || fail "pid $qemu_pid is not the domain's QEMU"
}
start_domain
cmdline=$(tr '\0' ' ' <"/proc/$qemu_pid/cmdline")
grep -q -- '-accel tcg ' <<<"$cmdline" || fail "QEMU is not run with -accel tcg: $cmdline"
! grep -Eq -- '-accel kvm|accel=kvm|-enable-kvm' <<<"$cmdline" || fail "QEMU uses KVM: $cmdline"
grep -q '"failover":true' <<<"$cmdline" || fail "libvirt gave the standby no failover=on: $cmdline"
ok "domain $name started: -accel tcg, <teaming type='persistent'/> made ua-net0 a virtio-net-pci with failover=on"

quser=$(ps -o user:32= -p "$qemu_pid" | tr -d ' ')
quid=$(ps -o uid= -p "$qemu_pid" | tr -d ' ')
[ "$quser" = libvirt-qemu ] && [ "$quid" != 0 ] ||
	fail "the domain's QEMU (pid $qemu_pid) runs as '$quser' (uid $quid), not libvirt-qemu"
ok "its QEMU (pid $qemu_pid) runs as $quser (uid $quid), not root"

for op in "prepare begin" "start begin" "started begin"; do
	hook_log_has "$name: $op" || fail "libvirtd did not run the hook at '$op'"
done
! hook_log_has prepare-incoming || fail "the hook called prepare-incoming for an ordinary start"
ok "libvirtd ran the hook at prepare, start and started; an ordinary start asks failoverd nothing"

wait_pair 120 "active emu0" "attach through the second monitor"
inst=$(ctl --no-legend instances | awk -v n="$name" '$1 == n')
grep -q ' yes .*(connected to us)' <<<"$inst" || fail "instance not connected to ListenQMP=: $inst"
ok "pair p0 attached through the second monitor: active on VF emu0; failoverctl instances:"
echo "$inst" | show

wait_for 60 "the guest bonds virtio + e1000e (its console)" bonded 0
ok "the guest bonded: net_failover over the virtio standby and the primary (its console):"
snapshot 0 | show

# --- libvirt's own hot-plug ------------------------------------------------------------

cat >"$work/nic1.xml" <<EOF
<interface type='user'>
  <mac address='52:54:00:aa:bb:02'/>
  <model type='virtio'/>
  <alias name='ua-net1'/>
  <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
</interface>
EOF
off=$(serial_size)
vsh attach-device "$name" "$work/nic1.xml" --live >/dev/null ||
	fail "virsh attach-device of a virtio NIC on pci.2 (bus 0x02)"
pci=$(qemu_pci)
grep -qx 'ua-net1 2' <<<"$pci" && grep -qx 'fo-p0 3' <<<"$pci" ||
	fail "QEMU's PCI devices after the hot-plug: $(tr '\n' ' ' <<<"$pci")"
has_nic1() { snapshot "$off" | grep -q 'drv=virtio_net master=- slaves=- mac=52:54:00:aa:bb:02' && bonded "$off"; }
wait_for 30 "the guest sees the hot-plugged NIC, still bonded" has_nic1
pair_is "active emu0" || fail "pair p0 after the hot-plug: $(pair)"
ok "virsh attach-device of a virtio NIC at an explicit address (pci.2) while the primary is plugged: no collision; QEMU has ua-net1 on bus 2, failoverd's fo-p0 on bus 3, the guest a 4th NIC and its bond"

# Without an address libvirt picks the root port it believes free: failoverd's.
cat >"$work/nic2.xml" <<EOF
<interface type='user'>
  <mac address='52:54:00:aa:bb:03'/>
  <model type='virtio'/>
  <alias name='ua-net2'/>
</interface>
EOF
if out=$(vsh attach-device "$name" "$work/nic2.xml" --live 2>&1); then
	fail "an unaddressed hot-plug succeeded (docs/integrations.md says it collides): $(qemu_pci | tr '\n' ' ')"
fi
grep -q 'in use by e1000e,id=fo-p0' <<<"$out" || fail "unexpected error of the unaddressed hot-plug: $out"
pair_is "active emu0" && qemu_pci | grep -qx 'fo-p0 3' || fail "the failed hot-plug disturbed the primary: $(pair)"
ok "an unaddressed hot-plug lands on failoverd's port and is refused, the primary untouched (the caveat of docs/integrations.md):"
grep -o 'PCI: .*' <<<"$out" | show

# --- failoverd restarted while the domain runs ---------------------------------------------

since=$(since_usec)
kill -TERM "$fovd_pid"
for ((i = 0; i < 100; i++)); do
	kill -0 "$fovd_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$fovd_pid" 2>/dev/null && fail "failoverd did not stop on SIGTERM"
mv "$work/failoverd.log" "$work/failoverd-1.log"
off=$(serial_size)
start_failoverd
reconnected() { ctl --no-legend instances | awk -v n="$name" '$1 == n { print $2 }' | grep -qx yes; }
wait_for 30 "the domain's QEMU dials the restarted failoverd" reconnected
# Two of the guest's snapshots after the restart (one every ~5 s at least).
two_snapshots() { [ "$(tail -c +"$((off + 1))" "$work/serial.log" | grep -c '^FOVD-NET-END')" -ge 2 ]; }
wait_for 30 "the guest's console after the restart" two_snapshots
pair_is "active emu0" || fail "pair p0 after the restart: $(pair)"
[ "$(since_usec)" = "$since" ] || fail "pair p0 changed state across the restart"
ctl --json status "$name/p0" | tr -d ' \n' | grep -q '"History":\[\]' ||
	fail "transitions since the restart: $(ctl status "$name/p0" | sed -n '/History:/,$p')"
! grep -q "pair $name/p0:" "$work/failoverd.log" || fail "the restarted failoverd moved p0: $(grep "pair $name/p0:" "$work/failoverd.log")"
[ "$(pool)" = "1 2" ] || fail "pool emu after the restart: free/total $(pool), expected 1 2"
snaps=$(tail -c +"$((off + 1))" "$work/serial.log" | tr -d '\r' |
	awk '/^FOVD-NET-BEGIN/ { n = ""; e = 0 } /drv=e1000e master=eth/ { e = 1 } /^FOVD-NET-END/ { print e }')
! grep -qx 0 <<<"$snaps" || fail "the guest lost its primary during the restart"
ok "failoverd restarted while the domain runs: QEMU dialled it again; p0 still active on emu0, no transition, no re-plug, 1 of 2 VFs free; the guest's primary never left"

# --- virsh destroy, the hook on the destination, virsh start ---------------------------

vsh destroy "$name" >/dev/null || fail "virsh destroy $name"
wait_pair 15 "released -" "virsh destroy"
reason=$(ctl --no-legend pairs "$name" | awk '$2 == "p0"' | sed 's/.*[0-9]:[0-9][0-9]:[0-9][0-9]  *//')
[ "$(pool)" = "2 2" ] || fail "pool emu after virsh destroy: free/total $(pool), expected 2 2"
ok "virsh destroy: pair p0 released ($reason), VF emu0 back: pool emu 2 of 2 free"
hook_log_has "$name: stopped end" && hook_log_has "$name: release end" ||
	fail "libvirtd did not run the hook at 'stopped end' and 'release end'"
# As libvirtd runs it on a migration's destination, before its QEMU exists.
out=$(vsh dumpxml --migratable "$name" | "$hook" "$name" migrate begin -) ||
	fail "the hook failed at 'migrate begin'"
[ -z "$out" ] || fail "the hook changed the XML at 'migrate begin': $out"
[ -e "$work/hook-marks/$name" ] || fail "the hook left no mark at 'migrate begin'"
ok "the hook at 'migrate begin' (run here as libvirtd runs it on a destination): exit 0, XML unchanged, the domain marked for 'started'"

off=$(serial_size)
start_domain
wait_pair 120 "active emu0" "virsh start again"
wait_for 60 "the guest bonds again (its console)" bonded "$off"
ok "virsh start again: re-attached, active on VF emu0, the guest bonded again:"
snapshot "$off" | show
wait_for 15 "the hook's prepare-incoming at 'started'" hook_log_has 'prepare-incoming'
hook_log_has 'failoverctl prepare-incoming failed: .*WrongState.*not waiting for an incoming migration' ||
	fail "the hook's prepare-incoming: $(grep prepare-incoming "$work/hook.log")"
[ ! -e "$work/hook-marks/$name" ] || fail "the hook left its mark after 'started'"
[ "$(vsh domstate "$name")" = running ] || fail "the domain is $(vsh domstate "$name")"
ok "the marked start: at 'started' the hook ran failoverctl prepare-incoming $name; failoverd refused (no migration is coming), logged, and the start went on:"
grep 'prepare-incoming' "$work/hook.log" | sed 's/^[0-9-]* [0-9:]* //' | show

vsh destroy "$name" >/dev/null || fail "virsh destroy $name"
wait_pair 15 "released -" "the last virsh destroy"
echo "== libvirt tier: $(($(date +%s) - t0)) s"
echo "libvirt: $passed passed, 0 failed"
