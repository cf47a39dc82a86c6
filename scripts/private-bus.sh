# Sourced by scripts/demo.sh and bench/run.sh: the configuration of a
# private dbus-daemon that stands in for a host's system bus (root may own
# and call anything; failoverd's own checks still apply).

# private_bus_conf SOCKET: prints the configuration, listening on SOCKET.
private_bus_conf() {
	cat <<EOF2
<busconfig>
  <listen>unix:path=$1</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF2
}
