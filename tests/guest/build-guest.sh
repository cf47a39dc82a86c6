#!/bin/bash
# Build (once) the tiny test guests of docs/qemu-failover.md §guests and print where they are:
#
#   eval "$(tests/guest/build-guest.sh failover)"   # or: igb
#
# stdout carries only `export FOVD_GUEST_KERNEL=... FOVD_GUEST_INITRD=...
# FOVD_GUEST_VARIANT=... FOVD_GUEST_BZIMAGE=... FOVD_GUEST_UDP=...` (the
# stream program of the traffic tier, static); progress goes to stderr.
#
# Kernel and busybox come from Debian packages (apt-get download + dpkg -x,
# nothing is installed). The result lives outside the source tree in
# ${FAILOVERD_CACHE:-/var/cache/failoverd-test}, keyed by the package versions
# and a hash of this script, and is published by rename so an interrupted
# build never leaves a half cache. One build produces both variants.
#
# failover: /init loads the virtio/failover/e1000e (+igbvf) drivers, brings
#   every NIC up and prints the network view on ttyS0 whenever it changes
#   (and every ~5 s), as a whole snapshot:
#     FOVD-MODULES loaded=a,b,... failed=...
#     FOVD-READY
#     FOVD-NET-BEGIN seq=N
#     FOVD-NET <if> drv=<driver|net_failover|none> master=<if|-> slaves=<if,if|-> mac=<mac> state=<operstate>
#     ...
#     FOVD-NET-END seq=N
#   Kernel argument fovd.nofailover: skip failover, net_failover and virtio_net
#   (a guest that never negotiates VIRTIO_NET_F_STANDBY).
#   Kernel argument fovd.traffic=ADDR/PREFIX,PEER,RATE: once the failover
#   master exists, give it ADDR and run tests/guest/fovd-udp.c (built static
#   into the initramfs) against PEER at RATE datagrams per second, both ways,
#   its FOVD-UDP lines on the console (the traffic tier, docs/traffic.md).
# igb: /init loads the igb/vfio/9p set, mounts the host root read-only over 9p
#   (mount_tag "host") at /host with proc, sysfs, devtmpfs, devpts and tmpfs
#   (/run, /tmp, /var/tmp, /dev/shm) inside, runs `chroot /host /bin/sh SCRIPT`
#   for the kernel argument fovd.script=/abs/path with its output on the
#   console, prints FOVD-EXIT=<status> and powers off. With fovd.systemd
#   instead, / is the host root under a tmpfs overlay and PID 1 is the host's
#   systemd (the system tier, tests/run-system-tier.sh).
set -eEuo pipefail
trap 'echo "build-guest: error: failed at line $LINENO" >&2' ERR

FAILOVER_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
failover net_failover virtio_net e1000e igbvf"
IGB_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
dca i2c-algo-bit igb igbvf netfs fscache 9pnet 9pnet_virtio 9p irqbypass vfio vfio_iommu_type1
vfio_virqfd vfio-pci-core vfio-pci overlay llc stp bridge veth"

log() { echo "build-guest: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

variant=${1:-}
case $variant in
failover | igb) ;;
*) die "usage: $0 failover|igb" ;;
esac

self=$(readlink -f "${BASH_SOURCE[0]}")
cache=${FAILOVERD_CACHE:-/var/cache/failoverd-test}
mkdir -p "$cache/apt" || die "cannot create cache directory $cache (set FAILOVERD_CACHE)"

# The docker-style apt config disables apt's binary cache, making every
# apt-cache call parse all lists (~0.5 s); keep one in our cache instead.
apt_opts=(-o "Dir::Cache::pkgcache=$cache/apt/pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=$cache/apt/srcpkgcache.bin")

candidate() {
	apt-cache "${apt_opts[@]}" policy "$1" | awk '$1 == "Candidate:" { print $2 }'
}

# The concrete 6.1 image package behind the linux-image-amd64 metapackage.
# bookworm-backports' 6.12 is pinned lower; should its candidate ever win,
# fall back to the newest 6.1 version so guests stay on the 6.1 kernel.
kernel_package() {
	local meta dep
	meta=$(candidate linux-image-amd64)
	[ -n "$meta" ] && [ "$meta" != "(none)" ] ||
		die "linux-image-amd64 has no candidate: run apt-get update"
	dep=$(apt-cache "${apt_opts[@]}" show "linux-image-amd64=$meta" |
		sed -n 's/^Depends:.*\(linux-image-6\.1\.[^ ,]*-amd64\).*/\1/p' | head -n1)
	if [ -z "$dep" ]; then
		meta=$(apt-cache "${apt_opts[@]}" madison linux-image-amd64 |
			awk -F' *[|] *' '$2 ~ /^6\.1\./ { print $2 }' | sort -V | tail -n1)
		[ -n "$meta" ] || die "no 6.1 version of linux-image-amd64 is available"
		dep=$(apt-cache "${apt_opts[@]}" show "linux-image-amd64=$meta" |
			sed -n 's/^Depends:.*\(linux-image-6\.1\.[^ ,]*-amd64\).*/\1/p' | head -n1)
	fi
	[ -n "$dep" ] || die "cannot resolve the kernel package of linux-image-amd64 $meta"
	echo "$dep"
}

kpkg=$(kernel_package)
kver=$(candidate "$kpkg")
bver=$(candidate busybox-static)
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "$kpkg has no candidate"
[ -n "$bver" ] && [ "$bver" != "(none)" ] || die "busybox-static has no candidate"
udp_src=$(dirname "$self")/fovd-udp.c
key=$(printf '%s\n' "$kpkg=$kver" "busybox-static=$bver" "$(sha256sum <"$self")" \
	"$(sha256sum <"$udp_src")" |
	sha256sum | cut -c1-16)
dir="$cache/guest-${kpkg#linux-image-}-$key"

emit() {
	local kernel=$dir/vmlinux
	[ -f "$kernel" ] || kernel=$dir/vmlinuz
	touch "$dir" 2>/dev/null || true # for pruning by age
	printf 'export FOVD_GUEST_KERNEL=%q FOVD_GUEST_INITRD=%q FOVD_GUEST_VARIANT=%q FOVD_GUEST_BZIMAGE=%q FOVD_GUEST_UDP=%q\n' \
		"$kernel" "$dir/initrd-$variant.gz" "$variant" "$dir/vmlinuz" "$dir/fovd-udp"
	exit 0
}

[ -d "$dir" ] && emit

exec 9>"$cache/.lock"
flock 9
[ -d "$dir" ] && emit # built by someone else while we waited

# We hold the lock: leftovers of killed builds are nobody's.
rm -rf "$cache"/.build.*
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
log "building guests from $kpkg $kver and busybox-static $bver in $dir"

mkdir -p "$tmp/deb" "$tmp/pkg" "$tmp/out"
(cd "$tmp/deb" && apt-get "${apt_opts[@]}" -q -o APT::Sandbox::User=root \
	download "$kpkg=$kver" "busybox-static=$bver" >&2) ||
	die "apt-get download failed"
for deb in "$tmp"/deb/*.deb; do
	dpkg -x "$deb" "$tmp/pkg"
done
busybox=$tmp/pkg/bin/busybox
[ -x "$busybox" ] || die "busybox-static did not provide /bin/busybox"

moddir=
for m in "$tmp"/pkg/lib/modules/* "$tmp"/pkg/usr/lib/modules/*; do
	[ -f "$m/modules.order" ] && moddir=$m && break
done
[ -n "$moddir" ] || die "$kpkg ships no modules"
uname_r=$(basename "$moddir")
depmod -b "${moddir%/lib/modules/*}" "$uname_r" || die "depmod failed"
bzimage=$(ls "$tmp"/pkg/boot/vmlinuz-*)
config=$(ls "$tmp"/pkg/boot/config-*)

# Kernel: the bzImage, plus the uncompressed vmlinux QEMU can boot via PVH
# without the guest decompressing itself under TCG (~5 s per boot).
cp "$bzimage" "$tmp/out/vmlinuz"
if grep -q '^CONFIG_PVH=y' "$config"; then
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | head -n1 | cut -d: -f1)
	[ -n "$off" ] || die "no XZ stream in $bzimage"
	# Not a pipe: xz stops at the stream's end and tail would die of SIGPIPE.
	xz -dc --single-stream <(tail -c +"$((off + 1))" "$bzimage") >"$tmp/out/vmlinux" ||
		die "cannot decompress the vmlinux inside $bzimage"
	[ "$(head -c4 "$tmp/out/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
		die "the decompressed kernel is not an ELF file"
else
	log "kernel lacks CONFIG_PVH: guests boot the bzImage"
fi

# module_files NAME...: the module files of NAMEs and of their dependencies,
# relative to $moddir. Missing names are reported on fd 3.
module_files() {
	awk -v want="$*" '
		function norm(s) { gsub(/-/, "_", s); return s }
		function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); return norm(p) }
		BEGIN { n = split(want, w, " ") }
		{ m = $1; sub(/:$/, "", m); line[base(m)] = m; for (i = 2; i <= NF; i++) line[base(m)] = line[base(m)] " " $i }
		END {
			for (i = 1; i <= n; i++) {
				m = norm(w[i])
				if (!(m in line)) { print w[i] > "/dev/fd/3"; continue }
				k = split(line[m], files, " ")
				for (j = 1; j <= k; j++) print files[j]
			}
		}' "$moddir/modules.dep" | sort -u
}

# make_initrd VARIANT MODULES INIT_TEXT
make_initrd() {
	local name=$1 modules=$2 init=$3 root=$tmp/root-$1 m present
	mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,run,host,lib/modules/"$uname_r"}
	ln -s bin "$root/sbin"
	cp "$busybox" "$root/bin/busybox"
	for a in $("$busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
	done
	module_files $modules 3>"$tmp/missing-$name" | while read -r m; do
		mkdir -p "$root/lib/modules/$uname_r/$(dirname "$m")"
		cp "$moddir/$m" "$root/lib/modules/$uname_r/$m"
	done
	cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$uname_r/"
	depmod -b "$root" "$uname_r" || die "depmod failed for the $name initramfs"
	present=
	for m in $modules; do
		grep -qx -- "$m" "$tmp/missing-$name" || present="$present$m"$'\n'
	done
	printf '%s' "$present" >"$root/etc/fovd-modules"
	if [ -s "$tmp/missing-$name" ]; then
		log "$name: not in $uname_r, skipped: $(tr '\n' ' ' <"$tmp/missing-$name")"
	fi
	printf '%s\n' "$init" >"$root/init"
	chmod 0755 "$root/init"
	[ "$name" = failover ] && cp "$tmp/fovd-udp" "$root/bin/fovd-udp"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -6 -n >"$tmp/out/initrd-$name.gz"
}

read -r -d '' FAILOVER_INIT <<'EOF' || true
#!/bin/sh
# PID 1 of the failover test guest. Never exits: the guest keeps running.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

skip=
case " $(cat /proc/cmdline) " in
*" fovd.nofailover "*) skip=" failover net_failover virtio_net " ;;
esac
loaded= failed=
while read -r m; do
	case "$skip" in *" $m "*) continue ;; esac
	if modprobe "$m"; then loaded="$loaded,$m"; else failed="$failed,$m"; fi
done </etc/fovd-modules
ip link set dev lo up
echo "FOVD-MODULES loaded=${loaded#,} failed=${failed#,}${skip:+ skipped=failover,net_failover,virtio_net}"
echo "FOVD-READY"

# fovd.traffic=ADDR/PREFIX,PEER,RATE: the stream of the traffic tier, on the failover master.
traffic() {
	IFS=, read -r addr peer rate <<T
$1
T
	i=0
	while [ $i -lt 600 ]; do
		for l in /sys/class/net/*/lower_*; do
			[ -e "$l" ] || continue
			m=${l%/lower_*}
			m=${m##*/}
			ip addr add "$addr" dev "$m" && ip link set dev "$m" up
			echo "FOVD-TRAFFIC on $m"
			exec /bin/fovd-udp 7700 "$peer" "$rate" 0 guest
		done
		i=$((i + 1))
		sleep 0.1
	done
	echo "FOVD-TRAFFIC no failover master"
}
for w in $(cat /proc/cmdline); do
	case $w in fovd.traffic=*) traffic "${w#fovd.traffic=}" & ;; esac
done

# Sets $line to one interface's view, with shell builtins only: this runs
# every 0.2 s under TCG.
describe() {
	d=$1 drv= master= slaves= mac= state=
	if [ -r "$d/device/uevent" ]; then
		while IFS='=' read -r k v; do
			[ "$k" = DRIVER ] && drv=$v
		done <"$d/device/uevent"
	fi
	for u in "$d"/upper_*; do
		[ -e "$u" ] && master=${u##*/upper_}
	done
	for l in "$d"/lower_*; do
		[ -e "$l" ] && slaves="$slaves,${l##*/lower_}"
	done
	# The failover master shares the virtio parent device, so its uevent
	# says virtio_net; with no bonding driver here, any master is net_failover.
	[ -n "$slaves" ] && drv=net_failover
	read -r mac <"$d/address"
	read -r state <"$d/operstate"
	slaves=${slaves#,}
	line="FOVD-NET ${d##*/} drv=${drv:-none} master=${master:--} slaves=${slaves:--} mac=$mac state=$state"
}

nl='
'
seen=' ' prev= tick=0 seq=0
while :; do
	cur= now=' '
	for d in /sys/class/net/*; do
		n=${d##*/}
		[ "$n" = lo ] || [ ! -e "$d" ] && continue
		case "$seen" in *" $n "*) ;; *) ip link set dev "$n" up 2>/dev/null ;; esac
		now="$now$n "
		describe "$d" 2>/dev/null && cur="$cur$line$nl"
	done
	seen=$now
	# A whole snapshot on every change, and every ~5 s so that a log begun
	# mid-life (a migration destination) soon has the full view.
	tick=$((tick + 1))
	if [ "$cur" != "$prev" ] || [ "$tick" -ge 25 ]; then
		seq=$((seq + 1)) tick=0 prev=$cur
		printf 'FOVD-NET-BEGIN seq=%s\n%sFOVD-NET-END seq=%s\n' "$seq" "$cur" "$seq"
	fi
	sleep 0.2
done
EOF

read -r -d '' IGB_INIT <<'EOF' || true
#!/bin/sh
# PID 1 of the SR-IOV test guest: run the host script named by fovd.script=
# in a chroot of the host's root, report its status, power off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

finish() {
	echo "FOVD-EXIT=$1"
	poweroff -f
	while :; do sleep 1; done
}

loaded= failed=
while read -r m; do
	if modprobe "$m"; then loaded="$loaded,$m"; else failed="$failed,$m"; fi
done </etc/fovd-modules
echo "FOVD-MODULES loaded=${loaded#,} failed=${failed#,}"

script= systemd=
for w in $(cat /proc/cmdline); do
	case "$w" in
	fovd.script=*) script=${w#fovd.script=} ;;
	fovd.systemd) systemd=1 ;;
	esac
done

# fovd.systemd: a real host of its own. The host root, read-only over 9p,
# under a writable overlay in guest memory becomes / and systemd is PID 1;
# what to run is then told to systemd (systemd.run= on the command line).
if [ -n "$systemd" ]; then
	mkdir -p /lower /rw /newroot
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /lower &&
		mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/upper /rw/work &&
		mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
			overlay /newroot || {
		echo "FOVD-ERROR cannot build the overlay root over the host root"
		finish 255
	}
	# This kernel's modules, for udev and modprobe inside; and the build
	# image's policy-rc.d, which keeps packages from starting services, goes:
	# maintainer scripts must behave as on a real host.
	mkdir -p /newroot/lib/modules && cp -a /lib/modules/. /newroot/lib/modules/
	rm -f /newroot/usr/sbin/policy-rc.d
	# The build image's container marker would make systemd believe it runs in
	# a container (no udev, and the kernel command line read from PID 1's).
	rm -f /newroot/.dockerenv /newroot/run/.containerenv
	umount /proc /sys
	mount --move /dev /newroot/dev 2>/dev/null || umount /dev
	echo "FOVD-SYSTEMD switching to systemd"
	exec switch_root /newroot /lib/systemd/systemd
fi
if [ -z "$script" ]; then
	echo "FOVD-ERROR no fovd.script= on the kernel command line"
	finish 255
fi

if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /host; then
	echo "FOVD-ERROR cannot mount the host root (mount_tag host)"
	finish 255
fi
mount -t proc proc /host/proc &&
	mount -t sysfs sysfs /host/sys &&
	mount -t devtmpfs devtmpfs /host/dev &&
	mount -t tmpfs -o mode=0755 tmpfs /host/run || {
	echo "FOVD-ERROR cannot mount the API filesystems inside /host"
	finish 255
}
# Tests keep their scripts and files in the host's /tmp: keep them visible
# under a writable overlay whose upper layer lives in guest memory.
mkdir -p /run/tmp && mount -t tmpfs -o mode=0755 tmpfs /run/tmp &&
	mkdir -p /run/tmp/upper /run/tmp/work && chmod 1777 /run/tmp/upper &&
	mount -t overlay -o lowerdir=/host/tmp,upperdir=/run/tmp/upper,workdir=/run/tmp/work \
		overlay /host/tmp || {
	echo "FOVD-WARN no overlay on /tmp: the host's /tmp is hidden by a tmpfs"
	mount -t tmpfs -o mode=1777 tmpfs /host/tmp
}
mount -t tmpfs -o mode=1777 tmpfs /host/var/tmp 2>/dev/null
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm 2>/dev/null

echo "FOVD-RUN $script"
cd /
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp TERM=dumb \
	chroot /host /bin/sh "$script" </dev/null
finish $?
EOF

gcc -static -O2 -Wall -o "$tmp/fovd-udp" "$udp_src" || die "cannot build $udp_src (gcc -static)"
cp "$tmp/fovd-udp" "$tmp/out/fovd-udp" # the traffic tier's peer runs it too
make_initrd failover "$FAILOVER_MODULES" "$FAILOVER_INIT"
make_initrd igb "$IGB_MODULES" "$IGB_INIT"

printf '%s\n' "kernel=$kpkg $kver ($uname_r)" "busybox-static=$bver" \
	"script-sha256=$(sha256sum <"$self" | cut -d' ' -f1)" >"$tmp/out/manifest"
chmod -R a+rX "$tmp/out"
mv -T "$tmp/out" "$dir"

# Drop guests of other versions nobody has used for a week.
find "$cache" -mindepth 1 -maxdepth 1 -name 'guest-*' -type d -mtime +7 \
	-exec rm -rf {} + 2>/dev/null || true
log "done in $(($(date +%s) - start)) s"
emit
