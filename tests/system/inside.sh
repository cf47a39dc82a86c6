#!/bin/bash
# The system tier's checks, run inside the system VM by its real systemd
# (PID 1) as kernel-command-line.service: install the .deb and use failoverd
# as an operator of a Debian host would, on the real system bus, with the
# igb PF's VFs under the unit's own sandbox. One "ok N - ..." or
# "not ok N - ..." line per check on the console; the last line is
# FOVD-EXIT=<number of failed checks>. See docs/reliability.md, "Under a
# real systemd".
#
#   inside.sh DEB WORKDIR
set -u
exec >/dev/ttyS0 2>&1 </dev/null
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
deb=$1 work=$2
n=0 failed=0
qpid=

ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
# check DESCRIPTION COMMAND...: the command's own output only when it fails.
check() {
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$d"; else
		not_ok "$d"
		sed 's/^/#   /' <<<"$out"
	fi
}
# wait_until SECONDS COMMAND...: true once COMMAND succeeds.
wait_until() {
	local t=$(($1 * 5))
	shift
	while [ $t -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		t=$((t - 1))
	done
	return 1
}
finish() {
	[ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
	echo "# failoverd's journal, last lines:"
	journalctl -u failoverd --no-hostname -o short-monotonic -n 40 | sed 's/^/#   /'
	echo "FOVD-EXIT=$failed"
	exit "$failed"
}
trap finish EXIT

unit_prop() { systemctl show -P "$1" failoverd.service; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_operator() { setpriv --reuid=fovdop --regid=nogroup --init-groups "$@"; }
bus_call=(busctl --system call org.failoverd1 /org/failoverd1 org.failoverd1.Manager)
denied() {
	local out
	out=$("$@" 2>&1) && {
		echo "allowed: $out"
		return 1
	}
	grep -q 'Access denied' <<<"$out" || {
		echo "not AccessDenied: $out"
		return 1
	}
}
journal_has() { journalctl -u failoverd -o json "$@" | grep -q .; }

# The generated unit is ordered after basic.target but does not pull it in:
# bring the host up to where a booted one is (sockets, udev, the system bus).
systemctl start basic.target
echo "# system tier: systemd $(systemctl --version | head -n1 | cut -d' ' -f2), kernel $(uname -r)"
check "the system bus is up (dbus.socket, real dbus-daemon)" systemctl is-active dbus.socket

# --- the package ---
# man-db's trigger would re-index every manual page of the host root over
# 9p (minutes under TCG); a host may turn that off the same way.
rm -f /var/lib/man-db/auto-update
install_deb() {
	dpkg -i "$deb" &&
		[ "$(systemctl is-enabled failoverd.service)" = enabled ] &&
		getent group failoverd >/dev/null &&
		[ -e /usr/share/dbus-1/system-services/org.failoverd1.service ] &&
		[ -e /usr/share/dbus-1/system.d/org.failoverd1.conf ]
}
check "dpkg -i: installed, failoverd.service enabled, group failoverd made, bus files in place" install_deb
check "its postinst started failoverd: active (running)" wait_until 60 systemctl is-active failoverd.service

# Type=notify: systemd counts the unit active when READY=1 arrives, which
# failoverd sends with its status text once start-up is complete; so a
# blocking start returns with the daemon already answering on the bus.
ready_when_active() {
	systemctl restart failoverd.service &&
		failoverctl status >/dev/null &&
		[ "$(unit_prop StatusText)" = "Managing failover pairs" ]
}
check "active only after READY=1: restart returns with the daemon answering, status text from its READY=1" ready_when_active

# --- configuration: operator files, systemctl reload ---
pf=
for d in /sys/class/net/*; do
	[ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = igb ] && pf=${d##*/} && break
done
make_vfs() {
	[ -n "$pf" ] || {
		echo "no igb PF"
		return 1
	}
	ip link set "$pf" up
	echo 0 >"/sys/class/net/$pf/device/sriov_numvfs"
	echo 7 >"/sys/class/net/$pf/device/sriov_numvfs"
	wait_until 30 test -e "/sys/class/net/$pf/device/virtfn6/driver"
}
check "the igb PF ${pf:-?} has 7 VFs on igbvf" make_vfs

mkdir -p /etc/failoverd
cat >/etc/failoverd/failoverd.conf <<EOC
[Daemon]
AdminGroup=failoverd
EOC
useradd -M -N -g nogroup -G failoverd -s /usr/sbin/nologin fovdop
check "a restart applies failoverd.conf (AdminGroup=failoverd)" systemctl restart failoverd.service
pool_listed() { failoverctl pools --no-legend | grep -q '^igb '; }
no_pool_yet() {
	local out
	out=$(failoverctl pools --no-legend) && ! grep -q '^igb ' <<<"$out"
}
check "no pool igb before its file exists" no_pool_yet
cat >/etc/failoverd/igb.pool <<EOC
[Pool]
PhysicalFunction=$pf
VirtualFunctions=0-3

[SR-IOV]
MACSpoofCheck=yes
EOC
pid_before=$(unit_prop MainPID)
check "systemctl reload (ExecReload=failoverctl reload) succeeds" systemctl reload failoverd.service
check "the pool added on disk appears after the reload" pool_listed
check "the reload did not restart the daemon (MainPID $pid_before)" test "${pid_before:-0}" -gt 0 -a "$(unit_prop MainPID)" = "$pid_before"

# --- the bus policy, installed, on the real system bus ---
check "nobody may read: ListPools" as_nobody "${bus_call[@]}" ListPools
check "nobody may read: properties" as_nobody busctl --system get-property org.failoverd1 /org/failoverd1 org.failoverd1.Manager Version
check "nobody: Reload is AccessDenied" denied as_nobody "${bus_call[@]}" Reload
check "nobody: AttachPair is AccessDenied" denied as_nobody "${bus_call[@]}" AttachPair 'sssssa{sv}' vm1 p9 igb 52:54:00:00:00:09 net0 0
check "nobody: DetachPair is AccessDenied" denied as_nobody "${bus_call[@]}" DetachPair ss vm1 p0
check "nobody: RemovePair is AccessDenied" denied as_nobody "${bus_call[@]}" RemovePair ss vm1 p0
check "nobody: PrepareIncoming is AccessDenied" denied as_nobody "${bus_call[@]}" PrepareIncoming s vm1
check "nobody: failoverctl reload exits 4 (access denied)" sh -c 'setpriv --reuid=nobody --regid=nogroup --clear-groups failoverctl reload; [ $? = 4 ]'
check "a member of group failoverd may mutate: Reload" as_operator "${bus_call[@]}" Reload
check "a member of group failoverd: failoverctl reload" as_operator failoverctl reload

# --- a real VF through the unit's sandbox, into a QEMU on this host ---
mkdir -p /run/qemu
qemu-system-x86_64 -accel tcg -M q35 -m 256 -nodefaults -display none -S -name vm1 \
	-device pcie-root-port,id=rp1,chassis=1,slot=1 -device pcie-root-port,id=rp2,chassis=2,slot=2 \
	-netdev user,id=hn0 -device virtio-net-pci,netdev=hn0,id=net0,failover=on,mac=52:54:00:5e:00:01,bus=rp1 \
	-qmp unix:/run/qemu/vm1.qmp,server=on,wait=off >"$work/qemu.log" 2>&1 &
qpid=$!
check "a paused q35 QEMU (vm1) listens on /run/qemu/vm1.qmp" wait_until 30 test -S /run/qemu/vm1.qmp
cat >/etc/failoverd/vm1.vm <<EOC
[Instance]
Name=vm1
QMP=/run/qemu/vm1.qmp

[Pair]
Name=p0
Pool=igb
MACAddress=52:54:00:5e:00:01
Standby=net0
PrimaryBus=rp2
EOC
check "systemctl reload: instance vm1 and pair p0 added" systemctl reload failoverd.service
pair_state() { failoverctl pairs --no-legend | awk '$1 == "vm1" && $2 == "p0" { print $3 }'; }
pair_in() { [ "$(pair_state)" = "$1" ]; }
check "pair vm1/p0 staged: primary plugged, hidden by QEMU until the guest negotiates" wait_until 90 pair_in staged
driver_of() { basename "$(readlink -f "/sys/class/net/$pf/device/virtfn$1/driver")"; }
held_vf=
for i in 0 1 2 3; do [ "$(driver_of $i)" = vfio-pci ] && held_vf=$i; done
check "one VF of the pool is bound to vfio-pci (VF ${held_vf:-none})" test -n "$held_vf"
mac_programmed() { ip link show "$pf" | grep -Ei "vf $held_vf .*52:54:00:5e:00:01"; }
check "its MAC was programmed over netlink (ip link: vf $held_vf 52:54:00:5e:00:01)" mac_programmed
qemu_has_primary() {
	printf '%s\n' '{"execute":"qmp_capabilities"}' \
		'{"execute":"qom-get","arguments":{"path":"/machine/peripheral/fo-p0","property":"type"}}' |
		socat -t 2 - UNIX-CONNECT:/run/qemu/vm1.qmp 2>/dev/null | grep -q vfio-pci
}
journal_transition() {
	journalctl -u failoverd -o json MESSAGE_ID=75e0d89d4dd34ab6bb89a0df0697bfd2 |
		jq -e 'select(.FAILOVERD_INSTANCE == "vm1" and .FAILOVERD_PAIR == "p0" and
			.FAILOVERD_FROM == "waiting" and .FAILOVERD_TO == "staged" and
			(.FAILOVERD_VF | length) > 0 and (.FAILOVERD_REASON | length) > 0)' >/dev/null
}
check "journalctl -o json: the transition with INSTANCE, PAIR, VF, FROM, TO, REASON and its MESSAGE_ID" journal_transition
# QEMU keeps a hidden primary (and plugs it when the guest negotiates), so a
# detach leaves the VF with it until QEMU exits (docs/pairs.md, "Detach").
check "failoverctl detach of the hidden primary is taken" failoverctl detach vm1 p0
check "... pair detaching" wait_until 60 pair_in detaching
check "... and the VF stays on vfio-pci while this QEMU may plug it" test "$(driver_of "$held_vf")" = vfio-pci
kill -TERM "$qpid"
wait "$qpid"
qpid=
check "QEMU exits: pair released" wait_until 60 pair_in released
check "the VF went back to igbvf" wait_until 30 test "$(driver_of "$held_vf")" = igbvf

# --- the watchdog ---
mkdir -p /etc/systemd/system/failoverd.service.d
cat >/etc/systemd/system/failoverd.service.d/50-watchdog.conf <<EOC
[Service]
WatchdogSec=3s
TimeoutAbortSec=5s
EOC
systemctl daemon-reload
systemctl restart failoverd.service
pid=$(unit_prop MainPID)
restarts=$(unit_prop NRestarts)
sleep 8
check "fed: alive after 8 s with WatchdogSec=3s (same PID, no restart)" test "${pid:-0}" -gt 0 -a "$(unit_prop MainPID)" = "$pid" -a "$(unit_prop NRestarts)" = "$restarts"
kill -STOP "$pid"
restarted() { [ "$(unit_prop NRestarts)" -gt "$restarts" ] && systemctl is-active failoverd.service; }
check "a daemon stopped with SIGSTOP is killed by the watchdog and restarted" wait_until 40 restarted
check "the journal says why: watchdog timeout" sh -c "journalctl -u failoverd -o cat | grep -qi 'watchdog timeout'"
rm /etc/systemd/system/failoverd.service.d/50-watchdog.conf
systemctl daemon-reload

# --- stop, then D-Bus activation ---
check "systemctl stop: inactive" systemctl stop failoverd.service
check "... with a clean exit (Result=success, status 0)" test "$(unit_prop Result)" = success -a "$(unit_prop ExecMainStatus)" = 0
check "... having logged its shutdown (MESSAGE_ID stopping)" journal_has MESSAGE_ID=f2920b7c95b244ac80b6c6ee0b104960
check "D-Bus activation: the first call (failoverctl pools) starts it through org.failoverd1.service" failoverctl pools
check "... and failoverd.service becomes active" wait_until 60 systemctl is-active failoverd.service

# --- socket activation: a zero-config QEMU dials failoverd-qmp.socket ---
systemctl stop failoverd.service
mkdir -p /etc/systemd/system/failoverd-qmp.socket.d
cat >/etc/systemd/system/failoverd-qmp.socket.d/50-group.conf <<EOC
[Socket]
SocketGroup=failoverd
SocketMode=0660
EOC
systemctl daemon-reload
check "systemctl enable --now failoverd-qmp.socket (a drop-in sets group and mode)" systemctl enable --now failoverd-qmp.socket
check "... the socket file is 0660, group failoverd, made by systemd" test "$(stat -c '%a %G' /run/failoverd/qmp.sock 2>&1)" = "660 failoverd"
qemu-system-x86_64 -accel tcg -M q35 -m 256 -nodefaults -display none -S -name zc1 \
	-chardev socket,id=fo,path=/run/failoverd/qmp.sock,reconnect-ms=1000 -mon chardev=fo,mode=control \
	>"$work/qemu-zc.log" 2>&1 &
qpid=$!
check "a QEMU dialling it starts failoverd.service (socket activation)" wait_until 60 systemctl is-active failoverd.service
zc_connected() { failoverctl instances --no-legend | grep -q '^zc1 *yes'; }
check "... which takes the passed socket and adopts the QEMU as instance zc1" wait_until 30 zc_connected
kill -TERM "$qpid"
wait "$qpid"
qpid=

# --- the sandbox, scored ---
score=$(systemd-analyze security failoverd.service 2>/dev/null |
	awk '/Overall exposure level/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) print $i, $(i + 1) }')
echo "# systemd-analyze security failoverd.service: overall exposure level $score"
check "systemd-analyze security scores the unit (${score:-none})" test -n "$score"
