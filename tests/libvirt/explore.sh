#!/bin/bash
# Re-runs the hand experiments recorded in NOTES.md and prints a transcript:
#   tests/libvirt/sandbox.sh tests/libvirt/explore.sh
# Each command is printed as "$ CMD", followed by its stdout, its stderr (lines
# prefixed "stderr| ") and "[exit N]". Not a test: it never fails on purpose.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# report SHOWN CMD...: prints "$ SHOWN", runs CMD, prints its output and exit code.
report() {
  echo "\$ $1"
  shift
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  cat "$T/out"
  sed 's/^/stderr| /' "$T/err"
  echo "[exit $rc]"
  echo
}
run() { report "$*" "$@"; }
# Same, but the command is one shell string (for pipes), printed verbatim.
runsh() { report "$1" bash -c "$1"; }
section() { printf '\n===== %s =====\n\n' "$*"; }

# nic FILE MAC NETWORK PORTGROUP [extra XML lines...]: a hooked-style NIC.
nic() {
  local file=$1 mac=$2 net=$3 pg=$4
  shift 4
  {
    echo "<interface type='network'>"
    echo "  <mac address='$mac'/>"
    if [[ -n $pg ]]; then
      echo "  <source network='$net' portgroup='$pg'/>"
    else
      echo "  <source network='$net'/>"
    fi
    local line
    for line in "$@"; do echo "  $line"; done
    echo "  <model type='virtio'/>"
    echo "</interface>"
  } >"$T/$file"
}
vp() { echo "<virtualport type='openvswitch'><parameters interfaceid='$1'/></virtualport>"; }
vlan() { echo "<vlan><tag id='$1'/></vlan>"; }
show() { echo "--- $1:"; cat "$T/$1"; echo; }
# unhooked FILE MAC [extra XML lines...]: the vNIC as VDSM sends it, on the oVirt bridge.
unhooked() {
  local file=$1 mac=$2
  shift 2
  {
    echo '<interface type="bridge">'
    echo "    <mac address=\"$mac\"/>"
    echo '    <model type="virtio"/>'
    echo '    <source bridge="ovirtmgmt"/>'
    local line
    for line in "$@"; do echo "    $line"; done
    echo "</interface>"
  } >"$T/$file"
}

# fresh_vm NAME NICFILE...: (re)define NAME from domain.xml with these NICs, start paused.
fresh_vm() {
  local name=$1
  shift
  virsh -q destroy "$name" >/dev/null 2>&1
  virsh -q undefine "$name" >/dev/null 2>&1
  sed "s|<name>sandbox-vm</name>|<name>$name</name>|" "$HERE/domain.xml" >"$T/$name.xml"
  virsh -q define "$T/$name.xml" >/dev/null || return 1
  local f
  for f in "$@"; do virsh -q attach-device "$name" "$T/$f" --config >/dev/null || return 1; done
  run virsh start --paused "$name"
}
# vnet DOM MAC: the tap device of the NIC with that MAC.
vnet() { virsh -q domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }

U1=11111111-1111-4111-8111-111111111111
U2=22222222-2222-4222-8222-222222222222
M1=56:6f:1a:2b:00:01
M2=56:6f:1a:2b:00:02

section "versions"
run virsh version
run ovs-vsctl --version

# ---------------------------------------------------------------------------
section "a. start paused with NIC on ovs-net:vlan-20"
nic a.xml $M1 ovs-net vlan-20 "$(vp $U1)" "$(vlan 20)" "<link state='up'/>" \
  "<alias name='ua-$U1'/>" "<boot order='2'/>"
show a.xml
fresh_vm vm-a a.xml
run virsh domiflist vm-a
V1=$(vnet vm-a $M1)
run ovs-vsctl get port "$V1" tag
run ovs-vsctl get interface "$V1" external_ids
runsh "virsh dumpxml vm-a | sed -n '/<interface/,/<\/interface>/p'"
runsh "virsh dumpxml --inactive vm-a | sed -n '/<interface/,/<\/interface>/p'"
runsh "virsh dumpxml --migratable vm-a | sed -n '/<interface/,/<\/interface>/p'"

section "b. hot-plug a second NIC on ovs-net:vlan-10"
nic b.xml $M2 ovs-net vlan-10 "$(vp $U2)" "$(vlan 10)" "<link state='up'/>" \
  "<alias name='ua-$U2'/>" "<boot order='3'/>"
show b.xml
run virsh attach-device vm-a "$T/b.xml" --live
run virsh domiflist vm-a
V2=$(vnet vm-a $M2)
run ovs-vsctl get port "$V2" tag

section "b2. hot-plug the same NIC without interfaceid/vlan (plain hooked XML)"
nic b2.xml 56:6f:1a:2b:00:03 ovs-net vlan-10 "<alias name='ua-33333333-3333-4333-8333-333333333333'/>"
show b2.xml
run virsh attach-device vm-a "$T/b2.xml" --live
V3=$(vnet vm-a 56:6f:1a:2b:00:03)
run ovs-vsctl get port "$V3" tag

# ---------------------------------------------------------------------------
section "c. live update of NIC 1"
nic c-down.xml $M1 ovs-net vlan-20 "$(vp $U1)" "$(vlan 20)" "<link state='down'/>" \
  "<alias name='ua-$U1'/>" "<boot order='2'/>"
show c-down.xml
run virsh update-device vm-a "$T/c-down.xml" --live
run virsh domif-getlink vm-a "$V1"
run ovs-vsctl get port "$V1" tag
run virsh update-device vm-a "$T/a.xml" --live
run virsh domif-getlink vm-a "$V1"

echo "# portgroup vlan-20 -> vlan-10 with explicit <vlan><tag id='10'/></vlan>, same interfaceid"
nic c-pg10.xml $M1 ovs-net vlan-10 "$(vp $U1)" "$(vlan 10)" "<link state='up'/>" \
  "<alias name='ua-$U1'/>" "<boot order='2'/>"
show c-pg10.xml
run virsh update-device vm-a "$T/c-pg10.xml" --live
run ovs-vsctl get port "$V1" tag
runsh "virsh dumpxml vm-a | sed -n '/<interface/,/<\/interface>/p' | head -20"

echo "# portgroup vlan-10 -> vlan-20 WITHOUT an explicit <vlan>, same interfaceid"
nic c-pg20-novlan.xml $M1 ovs-net vlan-20 "$(vp $U1)" "<link state='up'/>" \
  "<alias name='ua-$U1'/>" "<boot order='2'/>"
show c-pg20-novlan.xml
run virsh update-device vm-a "$T/c-pg20-novlan.xml" --live
run ovs-vsctl get port "$V1" tag
runsh "virsh dumpxml vm-a | sed -n '/<interface/,/<\/interface>/p' | grep -E 'vlan|tag|source'"

echo "# restore vlan-20 with explicit vlan"
run virsh update-device vm-a "$T/a.xml" --live
run ovs-vsctl get port "$V1" tag

echo "# link down WITHOUT <virtualport> parameters (plain hooked XML)"
nic c-novp.xml $M1 ovs-net vlan-20 "$(vlan 20)" "<link state='down'/>" \
  "<alias name='ua-$U1'/>" "<boot order='2'/>"
show c-novp.xml
run virsh update-device vm-a "$T/c-novp.xml" --live

echo "# link down WITHOUT <virtualport> and WITHOUT <vlan>"
nic c-novp2.xml $M1 ovs-net vlan-20 "<link state='down'/>" "<alias name='ua-$U1'/>" "<boot order='2'/>"
show c-novp2.xml
run virsh update-device vm-a "$T/c-novp2.xml" --live

echo "# the original un-hooked VDSM XML"
unhooked c-unhooked.xml $M1 '<link state="down"/>' "<alias name=\"ua-$U1\"/>" '<boot order="2"/>'
show c-unhooked.xml
run virsh update-device vm-a "$T/c-unhooked.xml" --live
echo "# ... with an existing ovirtmgmt Linux bridge"
ip link add ovirtmgmt type bridge && ip link set ovirtmgmt up
run virsh update-device vm-a "$T/c-unhooked.xml" --live
run ovs-vsctl get port "$V1" tag
ip link del ovirtmgmt
run virsh domif-getlink vm-a "$V1"

echo "# update with a DIFFERENT interfaceid"
nic c-otherid.xml $M1 ovs-net vlan-20 "$(vp 99999999-9999-4999-8999-999999999999)" "$(vlan 20)" \
  "<link state='down'/>" "<alias name='ua-$U1'/>" "<boot order='2'/>"
run virsh update-device vm-a "$T/c-otherid.xml" --live

section "c3. portgroup change without <vlan> leaves a stale live XML (fresh VM)"
M5=56:6f:1a:2b:00:10
U5=55555555-5555-4555-8555-555555555555
nic c3-20.xml $M5 ovs-net vlan-20 "$(vp $U5)" "$(vlan 20)" "<link state='up'/>"
nic c3-10-novlan.xml $M5 ovs-net vlan-10 "$(vp $U5)" "<link state='up'/>"
nic c3-10.xml $M5 ovs-net vlan-10 "$(vp $U5)" "$(vlan 10)" "<link state='up'/>"
nic c3-10-down.xml $M5 ovs-net vlan-10 "$(vp $U5)" "$(vlan 10)" "<link state='down'/>"
fresh_vm vm-c3 c3-20.xml
V=$(vnet vm-c3 $M5)
run ovs-vsctl get port "$V" tag
echo "# vlan-20 -> vlan-10, no explicit <vlan>"
run virsh update-device vm-c3 "$T/c3-10-novlan.xml" --live
run ovs-vsctl get port "$V" tag
runsh "virsh dumpxml vm-c3 | grep -E \"portgroup|tag id\""
echo "# same portgroup again, now WITH <vlan><tag id='10'/>"
run virsh update-device vm-c3 "$T/c3-10.xml" --live
run ovs-vsctl get port "$V" tag
runsh "virsh dumpxml vm-c3 | grep -E \"portgroup|tag id\""
echo "# link down with the same vlan-10 XML"
run virsh update-device vm-c3 "$T/c3-10-down.xml" --live
run ovs-vsctl get port "$V" tag
echo "# back to vlan-20 with explicit vlan"
run virsh update-device vm-c3 "$T/c3-20.xml" --live
run ovs-vsctl get port "$V" tag
runsh "virsh dumpxml vm-c3 | grep -E \"portgroup|tag id\""

# ---------------------------------------------------------------------------
section "d. unknown portgroup vlan-2"
nic d.xml 56:6f:1a:2b:00:04 ovs-net vlan-2 "<alias name='ua-44444444-4444-4444-8444-444444444444'/>"
show d.xml
fresh_vm vm-d d.xml
V=$(vnet vm-d 56:6f:1a:2b:00:04)
run ovs-vsctl get port "$V" tag
run ovs-vsctl get port "$V" trunks
runsh "virsh dumpxml vm-d | sed -n '/<interface/,/<\/interface>/p'"

# ---------------------------------------------------------------------------
section "e. filterref / port isolated on ovs-net"
nic e1.xml 56:6f:1a:2b:00:05 ovs-net vlan-20 "<filterref filter='vdsm-no-mac-spoofing'/>"
show e1.xml
fresh_vm vm-e e1.xml
echo "# hot-plug of the same NIC into the running vm-a"
run virsh attach-device vm-a "$T/e1.xml" --live
nic e2.xml 56:6f:1a:2b:00:06 ovs-net vlan-20 "<port isolated='yes'/>"
show e2.xml
fresh_vm vm-e e2.xml
run virsh attach-device vm-a "$T/e2.xml" --live

# ---------------------------------------------------------------------------
section "f. br-net (Linux bridge) and default (NAT) with filterref"
nic f1.xml 56:6f:1a:2b:00:07 br-net vlan-20 "<filterref filter='vdsm-no-mac-spoofing'/>"
nic f2.xml 56:6f:1a:2b:00:08 default "" "<filterref filter='vdsm-no-mac-spoofing'/>"
show f1.xml
show f2.xml
fresh_vm vm-f f1.xml f2.xml
run virsh domiflist vm-f
run ip -br link show master brnet0
run ip -br link show master virbr0
echo "# the filter is really applied (ebtables-nft rules for both taps)"
run ebtables -t nat -L PREROUTING
run ebtables -t nat -L "I-$(vnet vm-f 56:6f:1a:2b:00:07)-mac"
runsh "virsh dumpxml vm-f | sed -n '/<interface/,/<\/interface>/p'"
echo "# hot-plug onto br-net with filterref + port isolated"
nic f3.xml 56:6f:1a:2b:00:09 br-net "" "<filterref filter='vdsm-no-mac-spoofing'/>" "<port isolated='yes'/>"
run virsh attach-device vm-f "$T/f3.xml" --live
runsh "bridge -d link show | grep -A1 \$(virsh -q domiflist vm-f | awk '\$5==\"56:6f:1a:2b:00:09\"{print \$1}') | grep -o 'isolated [a-z]*'"
echo "# an openvswitch virtualport on a Linux-bridge network"
nic f4.xml 56:6f:1a:2b:00:0a br-net "" "$(vp $U2)"
run virsh attach-device vm-f "$T/f4.xml" --live
echo "# an explicit <vlan> on a Linux-bridge network"
nic f5.xml 56:6f:1a:2b:00:0b br-net "" "$(vlan 20)"
run virsh attach-device vm-f "$T/f5.xml" --live

echo "# live update of the br-net NIC with the un-hooked VDSM XML (type=bridge, ovirtmgmt)"
unhooked f-unhooked.xml 56:6f:1a:2b:00:07 '<filterref filter="vdsm-no-mac-spoofing"/>' \
  '<link state="down"/>'
show f-unhooked.xml
VF=$(vnet vm-f 56:6f:1a:2b:00:07)
run virsh update-device vm-f "$T/f-unhooked.xml" --live
ip link add ovirtmgmt type bridge && ip link set ovirtmgmt up
run virsh update-device vm-f "$T/f-unhooked.xml" --live
run ip -br link show master ovirtmgmt
run ip -br link show master brnet0
run virsh domiflist vm-f
run virsh domif-getlink vm-f "$VF"
ip link del ovirtmgmt

echo "# unknown and inactive networks"
nic f6.xml 56:6f:1a:2b:00:0c no-such-net ""
run virsh attach-device vm-f "$T/f6.xml" --live
nic f7.xml 56:6f:1a:2b:00:0d off-net vlan-10
run virsh attach-device vm-f "$T/f7.xml" --live
fresh_vm vm-g f7.xml
echo "# a filter that does not exist"
nic f8.xml 56:6f:1a:2b:00:0e br-net "" "<filterref filter='no-such-filter'/>"
run virsh attach-device vm-f "$T/f8.xml" --live
run virsh nwfilter-list

# ---------------------------------------------------------------------------
section "g. read-only queries"
run virsh -r -c qemu:///system 'net-info ovs-net; net-dumpxml ovs-net'
run virsh -r -c qemu:///system 'net-info off-net; net-dumpxml off-net'
run virsh -r -c qemu:///system 'net-info br-net; net-dumpxml br-net'
run virsh -r -c qemu:///system 'net-info default; net-dumpxml default'
run virsh -r -c qemu:///system 'net-info no-such-net; net-dumpxml no-such-net'
run virsh -r -c qemu:///system 'net-dumpxml no-such-net; net-info ovs-net'
run virsh -r -c qemu:///system net-info no-such-net
run virsh -r -c qemu:///system net-dumpxml --inactive ovs-net
run virsh -q -r -c qemu:///system 'net-info ovs-net; net-dumpxml ovs-net'
run virsh -r -c qemu:///system 'net-info ovs-net; net-info no-such-net'
echo "# exact bytes of stdout for a failing net-info / net-dumpxml"
runsh "virsh -r -c qemu:///system net-info no-such-net 2>/dev/null | od -c"
runsh "virsh -r -c qemu:///system net-dumpxml no-such-net 2>/dev/null | od -c"
runsh "virsh -r -c qemu:///system 'net-info no-such-net; net-dumpxml no-such-net' 2>/dev/null | od -c"
runsh "virsh -q -r -c qemu:///system 'net-info no-such-net; net-dumpxml no-such-net' 2>/dev/null | od -c"
echo "# exact bytes of the start and end of a successful net-info + net-dumpxml"
runsh "virsh -r -c qemu:///system 'net-info off-net; net-dumpxml off-net' | od -c | head -4"
runsh "virsh -r -c qemu:///system 'net-info off-net; net-dumpxml off-net' | od -c | tail -4"
echo "# timing: 10 read-only virsh processes with two commands each"
runsh "time (for i in 1 2 3 4 5 6 7 8 9 10; do virsh -r -c qemu:///system 'net-info ovs-net; net-dumpxml ovs-net' >/dev/null; done)"
echo "# as an unprivileged user (nobody)"
run setpriv --reuid=nobody --regid=nogroup --clear-groups virsh -r -c qemu:///system 'net-info ovs-net'
run setpriv --reuid=nobody --regid=nogroup --clear-groups virsh -c qemu:///system 'net-info ovs-net'
echo "# test driver, no daemon"
run virsh -c test:///default 'net-info default; net-dumpxml default'
