#!/bin/bash
# Real-libvirt sandbox for integration tests.
#
#   sudo tests/libvirt/sandbox.sh COMMAND [ARGS...]
#   tests/libvirt/sandbox.sh --check   # prints what this host lacks for it; exit 125 if anything
#
# Runs COMMAND (as root) inside private mount/net/pid/ipc/uts namespaces where
# ovsdb-server, ovs-vswitchd and libvirtd (QEMU driver, TCG) are running, with the
# networks of tests/libvirt/networks/*.xml defined (all started except off-net) and
# the nwfilters of tests/libvirt/nwfilters/*.xml defined. Nothing touches the host:
# /run, /var/lib, /var/cache, /var/log, /etc/libvirt, /etc/openvswitch and /sys are
# private mounts, and every daemon dies with the PID namespace when COMMAND ends.
#
# Exits with COMMAND's exit code (125 if the sandbox could not be set up).
# Quiet on success. Daemon logs go to a temp dir (printed on failure and kept when
# the exit code is non-zero; set SANDBOX_KEEP=1 to keep it always, SANDBOX_KEEP=0 never).
#
# Inside COMMAND: LIBVIRT_DEFAULT_URI=qemu:///system, SANDBOX_DIR=<that temp dir>,
# SANDBOX_HOME=<this directory>. Packages: see packages.txt next to this file.
# SANDBOX_DEBUG=1 makes libvirtd log at debug level. SANDBOX_AUTH_UNIX_RO sets libvirtd's
# auth_unix_ro (default none; polkit also starts a system bus and polkitd).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH="${PATH:-/usr/bin:/bin}:/usr/sbin:/sbin"
SETUP_FAILED=125

die() { echo "sandbox: $*" >&2; exit "$SETUP_FAILED"; }

# ----------------------------------------------------------------------------
# Outside: create the log dir, enter the namespaces, clean up afterwards.
# ----------------------------------------------------------------------------
# What the sandbox needs and this host lacks, as one line ("" when nothing is missing).
missing_prerequisites() {
  local packaged=() bin
  for bin in unshare nsenter setpriv libvirtd virsh ovsdb-server ovs-vswitchd ovs-vsctl ip \
    qemu-system-x86_64 xmllint dnsmasq iptables; do
    command -v "$bin" >/dev/null || packaged+=("$bin")
  done
  [[ -e /etc/libvirt/nwfilter/no-mac-spoofing.xml ]] ||
    packaged+=("libvirt's nwfilters (/etc/libvirt/nwfilter)")
  local missing=()
  [[ $EUID -eq 0 ]] || missing+=("root")
  [[ ${#packaged[@]} -eq 0 ]] ||
    missing+=("$(IFS=,; echo "${packaged[*]}" | sed 's/,/, /g') (packages: tests/libvirt/packages.txt)")
  [[ ${#missing[@]} -eq 0 ]] || echo "needs $(IFS=';'; echo "${missing[*]}" | sed 's/;/; /g')"
}

if [[ "${_SANDBOX_INNER:-}" != 1 ]]; then
  [[ $# -ge 1 ]] || { echo "usage: $0 --check | COMMAND [ARGS...]" >&2; exit 2; }
  missing=$(missing_prerequisites)
  if [[ $1 == --check ]]; then
    # For the tests: say what is missing and exit 125, or exit 0 quietly.
    [[ -z $missing ]] || { echo "$missing"; exit "$SETUP_FAILED"; }
    exit 0
  fi
  [[ -z $missing ]] ||
    die "$missing (as root: apt-get install -y --no-install-recommends \$(cat $HERE/packages.txt))"
  work=$(mktemp -d "${TMPDIR:-/tmp}/libvirt-sandbox.XXXXXX")
  # unshare ignores SIGINT/SIGTERM while it waits for its child, so run it in the
  # background (stdin kept) and, on a signal, SIGKILL the namespace's PID 1 (the
  # child of unshare): the kernel then kills every process of the namespace.
  # (--kill-child does the same if unshare itself is killed.)
  _SANDBOX_INNER=1 SANDBOX_DIR="$work" \
    unshare --mount --net --pid --ipc --uts --fork --kill-child --mount-proc \
    "$HERE/sandbox.sh" "$@" <&0 &
  child=$!
  killed_by=
  # shellcheck disable=SC2317  # called from the traps
  kill_namespace() {
    killed_by=$1
    local init
    init=$(cat "/proc/$child/task/$child/children" 2>/dev/null) || true
    [[ -z $init ]] || kill -KILL "$init" 2>/dev/null || true
  }
  trap 'kill_namespace 130' INT
  trap 'kill_namespace 143' TERM
  trap 'kill_namespace 129' HUP
  rc=0
  while :; do
    wait "$child" && rc=0 || rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  [[ -z $killed_by ]] || rc=$killed_by
  if [[ "${SANDBOX_KEEP:-}" == 0 || ($rc -eq 0 && "${SANDBOX_KEEP:-}" != 1) ]]; then
    rm -rf "$work"
  else
    echo "sandbox: exit code $rc; logs kept in $work" >&2
  fi
  exit "$rc"
fi

# ----------------------------------------------------------------------------
# Inside the namespaces (we are PID 1 of the new PID namespace).
# ----------------------------------------------------------------------------
work=$SANDBOX_DIR
unset _SANDBOX_INNER
logdir=$work/log
mkdir -p "$logdir"

setup_failed() {
  echo "sandbox: setup failed: $*" >&2
  local f
  for f in "$work"/setup.log "$logdir"/libvirt/libvirtd.{stderr,log} "$logdir"/openvswitch/*.log; do
    [[ -s "$f" ]] || continue
    echo "----- $f (last 25 lines)" >&2
    tail -n 25 "$f" >&2
  done
  exit "$SETUP_FAILED"
}
# Run a setup step; its output goes to setup.log.
step() {
  echo "+ [$(date +%T.%N)] $*" >>"$work/setup.log"
  "$@" >>"$work/setup.log" 2>&1 || setup_failed "$*"
}

step hostname libvirt-sandbox

# --- private filesystem view -------------------------------------------------
# (unshare --mount already made every mount private; --mount-proc gave us a /proc
# for the new PID namespace.)
# Copy the pristine config that we are about to hide.
mkdir -p "$work/pristine"
cp -a /etc/libvirt "$work/pristine/etc-libvirt" 2>/dev/null || mkdir -p "$work/pristine/etc-libvirt"

# A fresh sysfs: shows this net namespace's interfaces and has no cgroup mounts
# below it, so libvirt finds no cgroups and creates none on the host.
step umount -R -l /sys
step mount -t sysfs -o nosuid,nodev,noexec sysfs /sys

for d in /run /var/lib /var/cache /etc/libvirt /etc/openvswitch; do
  step mkdir -p "$d"
  step mount -t tmpfs -o mode=0755 tmpfs "$d"
done
# Logs are kept in the temp dir so they survive a failure.
step mount --bind "$logdir" /var/log
step cp -a "$work/pristine/etc-libvirt/." /etc/libvirt/
mkdir -p /run/lock /var/log/libvirt/qemu /var/log/openvswitch /run/openvswitch

# Private passwd/group: Debian's libvirtd refuses to start without the user
# libvirt-qemu (its compiled-in default), even with user = "root" in qemu.conf:
# "Failed to parse user 'libvirt-qemu'" (that user comes with libvirt-daemon-system,
# which we do not install). dnsmasq runs as "nobody" and needs nothing.
cp /etc/passwd "$work/passwd"
cp /etc/group "$work/group"
getent group kvm >/dev/null || echo "kvm:x:64990:" >>"$work/group"
getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64991:" >>"$work/group"
getent passwd libvirt-qemu >/dev/null ||
  echo "libvirt-qemu:x:64991:64991:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin" >>"$work/passwd"
step mount --bind "$work/passwd" /etc/passwd
step mount --bind "$work/group" /etc/group

step ip link set lo up

# --- Open vSwitch (userspace datapath, no kernel module) -----------------------
step ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema
step ovsdb-server /etc/openvswitch/conf.db \
  --remote=punix:/run/openvswitch/db.sock \
  --pidfile=/run/openvswitch/ovsdb-server.pid --detach \
  --log-file=/var/log/openvswitch/ovsdb-server.log
step ovs-vsctl --no-wait init
step ovs-vswitchd unix:/run/openvswitch/db.sock \
  --pidfile=/run/openvswitch/ovs-vswitchd.pid --detach \
  --log-file=/var/log/openvswitch/ovs-vswitchd.log

# --- polkit, when libvirtd's read-only socket asks for it ----------------------
# Started before libvirtd, which connects to the system bus once, at start-up. Only
# libvirt's read-only action is defined, allowed for any user as libvirt's own policy
# file does (libvirt-daemon-system, which ships it, is not installed here).
if [[ "${SANDBOX_AUTH_UNIX_RO:-none}" == polkit ]]; then
  mkdir -p /run/dbus "$work/polkit-actions"
  step dbus-daemon --system --fork
  cat >"$work/polkit-actions/org.libvirt.unix.policy" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE policyconfig PUBLIC "-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN"
    "http://www.freedesktop.org/software/polkit/policyconfig-1.dtd">
<policyconfig>
  <action id="org.libvirt.unix.monitor">
    <description>Monitor local virtualized systems</description>
    <message>System policy prevents monitoring of local virtualized systems</message>
    <defaults>
      <allow_any>yes</allow_any>
      <allow_inactive>yes</allow_inactive>
      <allow_active>yes</allow_active>
    </defaults>
  </action>
</policyconfig>
EOF
  step mount --bind "$work/polkit-actions" /usr/share/polkit-1/actions
  # polkitd switches to its own user itself.
  /usr/lib/polkit-1/polkitd --no-debug \
    >>"$logdir/polkitd.log" 2>&1 &
  polkit_up() {
    dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null |
      grep -q true
  }
  for _ in $(seq 300); do polkit_up && break; sleep 0.1; done
  polkit_up || setup_failed "polkitd did not register on the system bus within 30 s"
fi

# --- libvirtd -----------------------------------------------------------------
loglevel=3
[[ "${SANDBOX_DEBUG:-}" == 1 ]] && loglevel=1
cat >/etc/libvirt/libvirtd.conf <<EOF
auth_unix_ro = "${SANDBOX_AUTH_UNIX_RO:-none}"
auth_unix_rw = "none"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
log_outputs = "$loglevel:file:/var/log/libvirt/libvirtd.log"
EOF
cat >/etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
EOF
echo "+ [$(date +%T.%N)] libvirtd &" >>"$work/setup.log"
libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirtd.pid \
  >>"$logdir/libvirt/libvirtd.stderr" 2>&1 &
libvirtd_pid=$!

export LIBVIRT_DEFAULT_URI=qemu:///system
for _ in $(seq 300); do
  virsh -q version >/dev/null 2>&1 && break
  kill -0 "$libvirtd_pid" 2>/dev/null || setup_failed "libvirtd exited"
  sleep 0.05
done
step virsh -q version

# --- networks -----------------------------------------------------------------
# Every networks/NAME.xml is defined; all but those listed here are started.
inactive=" off-net "
# Bridges that libvirt expects to exist (forward mode='bridge'): an OVS bridge
# (userspace datapath) when the network has <virtualport type='openvswitch'/>,
# otherwise a Linux bridge. NAT/routed networks create their own bridge.
xpath() { xmllint --xpath "$1" "$2"; }
for f in "$HERE"/networks/*.xml; do
  name=$(basename "$f" .xml)
  [[ "$inactive" != *" $name "* ]] || continue
  [[ "$(xpath 'string(/network/forward/@mode)' "$f")" == bridge ]] || continue
  br=$(xpath 'string(/network/bridge/@name)' "$f")
  if [[ "$(xpath 'count(/network/virtualport[@type="openvswitch"])' "$f")" != 0 ]]; then
    step ovs-vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev
  else
    step ip link add "$br" type bridge
  fi
  step ip link set "$br" up
done

for f in "$HERE"/nwfilters/*.xml; do
  step virsh -q nwfilter-define "$f"
done
for f in "$HERE"/networks/*.xml; do
  name=$(basename "$f" .xml)
  step virsh -q net-define "$f"
  [[ "$inactive" == *" $name "* ]] || step virsh -q net-start "$name"
done

# --- the command ---------------------------------------------------------------
export SANDBOX_DIR="$work" SANDBOX_HOME="$HERE"
rc=0
"$@" || rc=$?
exit "$rc"
