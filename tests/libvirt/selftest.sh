#!/bin/bash
# Quick check that the libvirt sandbox works on this machine:
#   tests/libvirt/sandbox.sh tests/libvirt/selftest.sh
# Starts the paused test VM with a NIC on ovs-net:vlan-20, checks the real OVS tag,
# then live-updates the NIC (link down/up, portgroup vlan-10) and checks again.
# Prints one PASS/FAIL line per check and a closing "N passed, N failed" line;
# exits non-zero if any check failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

passed=0
failed=0
check() { # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "PASS $1"
    passed=$((passed + 1))
  else
    echo "FAIL $1: expected '$2', got '$3'"
    failed=$((failed + 1))
  fi
}
# ok NAME COMMAND...: PASS if the command succeeds (its output is shown on failure).
ok() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: $* -> $out"
    failed=$((failed + 1))
  fi
}
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
}

IFACEID=11111111-1111-4111-8111-111111111111
MAC=56:6f:1a:2b:00:01
VM=selftest-vm

nic() { # nic PORTGROUP TAG LINK
  cat <<EOF
<interface type='network'>
  <mac address='$MAC'/>
  <source network='ovs-net' portgroup='$1'/>
  <virtualport type='openvswitch'>
    <parameters interfaceid='$IFACEID'/>
  </virtualport>
  <vlan>
    <tag id='$2'/>
  </vlan>
  <model type='virtio'/>
  <link state='$3'/>
  <alias name='ua-$IFACEID'/>
  <boot order='2'/>
</interface>
EOF
}
nic vlan-20 20 up >"$T/nic-up.xml"
nic vlan-20 20 down >"$T/nic-down.xml"
nic vlan-10 10 up >"$T/nic-vlan10.xml"
{
  sed '/<!-- @INTERFACES@ -->/,$d' "$HERE/domain.xml"
  cat "$T/nic-up.xml"
  sed '1,/<!-- @INTERFACES@ -->/d' "$HERE/domain.xml"
} | sed "s|<name>sandbox-vm</name>|<name>$VM</name>|" >"$T/domain.xml"

check "LIBVIRT_DEFAULT_URI" "qemu:///system" "${LIBVIRT_DEFAULT_URI:-}"
check "ovs-net active" "yes" "$(virsh -r net-info ovs-net 2>&1 | awk '$1 == "Active:" {print $2}')"
check "off-net inactive" "no" "$(virsh -r net-info off-net 2>&1 | awk '$1 == "Active:" {print $2}')"

# a. start paused, real tag
ok "define domain" virsh define "$T/domain.xml"
ok "start --paused" virsh start --paused "$VM"
vnet=$(virsh -q domiflist "$VM" 2>/dev/null | awk -v m="$MAC" '$5 == m {print $1}')
[[ -n $vnet ]] || { echo "FAIL no vnet for $MAC"; failed=$((failed + 1)); finish; }
check "a: OVS tag after start (vlan-20)" 20 "$(ovs-vsctl get port "$vnet" tag 2>&1)"
check "a: OVS iface-id" "\"$IFACEID\"" "$(ovs-vsctl get interface "$vnet" external_ids:iface-id 2>&1)"

# c. live update: link down, up, portgroup change
ok "c: update-device link down" virsh update-device "$VM" "$T/nic-down.xml" --live
check "c: link state down" "$vnet down" "$(virsh domif-getlink "$VM" "$vnet" 2>&1 | head -n1)"
check "c: OVS tag unchanged after link down" 20 "$(ovs-vsctl get port "$vnet" tag 2>&1)"
ok "c: update-device link up" virsh update-device "$VM" "$T/nic-up.xml" --live
check "c: link state up" "$vnet up" "$(virsh domif-getlink "$VM" "$vnet" 2>&1 | head -n1)"
ok "c: update-device portgroup vlan-10" virsh update-device "$VM" "$T/nic-vlan10.xml" --live
check "c: OVS tag after portgroup change" 10 "$(ovs-vsctl get port "$vnet" tag 2>&1)"

# c. without the interfaceid libvirt refuses the update
sed "/<virtualport/,/<\/virtualport>/d; s/state='up'/state='down'/" "$T/nic-vlan10.xml" >"$T/nic-novp.xml"
err=$(virsh update-device "$VM" "$T/nic-novp.xml" --live 2>&1 >/dev/null)
check "c: update without interfaceid refused" \
  "error: Operation not supported: unable to change config on 'network' network type" \
  "$(grep -o "error: Operation not supported.*" <<<"$err")"

virsh -q destroy "$VM" >/dev/null 2>&1
virsh -q undefine "$VM" >/dev/null 2>&1
finish
