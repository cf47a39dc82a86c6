# Sourced by the guest-tier runners: the TCG lock, which keeps two guest
# suites from running at once on the machine's cores. A runner takes it
# itself unless an ancestor process already holds it
# (`flock /tmp/failoverd-tcg.lock make check`), where taking it again would
# deadlock.
lock=${FOVD_TCG_LOCK:-/tmp/failoverd-tcg.lock}

# Whether the flock on $lock (per /proc/locks) belongs to one of our ancestors.
lock_held_by_ancestor() {
	local ino holders p
	ino=$(stat -c %i "$lock" 2>/dev/null) || return 1
	holders=" $(awk -v s=":$ino" '$2 == "FLOCK" && substr($6, length($6) - length(s) + 1) == s { print $5 }' \
		/proc/locks | tr '\n' ' ')"
	p=$PPID
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		case $holders in *" $p "*) return 0 ;; esac
		p=$(awk '$1 == "PPid:" { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}
