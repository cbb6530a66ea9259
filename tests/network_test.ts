// What the hook reads from virsh and where it places a vNIC: the rules that decide the VLAN.
import assert from "node:assert/strict";
import { parseNetworkReport, placeOnNetwork } from "../lib/network.ts";
import { Refusal } from "../lib/refusal.ts";
import { recordedNetwork } from "./helpers.ts";

// `virsh net-info NAME; net-dumpxml NAME` for a network whose XML is `body`.
function report(body: string, info = "Name:           net\nActive:         yes\n"): string {
  return `${info}\n<network>\n  <name>net</name>\n  <forward mode='bridge'/>\n${body}</network>\n`;
}

Deno.test("refuses virsh output it cannot trust to describe the network asked for", () => {
  const cases: [string, string, RegExp][] = [
    ["no XML", "Name:           net\nActive:         yes\n", /printed no network XML/],
    ["no name", report("", "Active:         yes\n"), /printed no network name/],
    ["another network's XML", report("", "Name:           other\n"), /another network's XML/],
    ["XML that is not well-formed", report("<bridge name='br0'>"), /not well-formed/],
  ];
  for (const [what, output, reason] of cases) {
    assert.throws(() => parseNetworkReport(output), (error: Error) => {
      assert.ok(error instanceof Refusal, what);
      assert.match(error.message, reason, what);
      return true;
    });
  }
});

Deno.test("a network is active only when net-info says 'Active: yes'", () => {
  for (const info of ["Name: net\n", "Name: net\nActive: no\n", "Name: net\nActive: Yes\n"]) {
    const network = parseNetworkReport(report("  <bridge name='br0'/>\n", info));
    assert.equal(network.active, false, info);
    assert.throws(() => placeOnNetwork(network, { network: "net" }), /is not active/);
  }
});

Deno.test("an Open vSwitch virtualport on a portgroup only makes that portgroup's ports Open vSwitch", () => {
  const network = parseNetworkReport(report(
    "  <bridge name='ovsbr0'/>\n" +
      "  <portgroup name='ovs'><virtualport type='openvswitch'/><vlan><tag id='20'/></vlan></portgroup>\n" +
      "  <portgroup name='plain'/>\n",
  ));
  assert.equal(network.kind, "Open vSwitch");
  assert.equal(network.openvswitch, false);
  assert.deepEqual(placeOnNetwork(network, { network: "net", portgroup: "ovs" }).openvswitch, true);
  assert.deepEqual(
    placeOnNetwork(network, { network: "net", portgroup: "plain" }).openvswitch,
    false,
  );
});

Deno.test("the portgroup's VLAN wins over the network's, which applies without one", () => {
  const network = parseNetworkReport(report(
    "  <bridge name='ovsbr0'/>\n  <virtualport type='openvswitch'/>\n" +
      "  <vlan><tag id='30'/></vlan>\n" +
      "  <portgroup name='vlan-20'><vlan><tag id='20'/></vlan></portgroup>\n" +
      "  <portgroup name='untagged'/>\n",
  ));
  const vlanAt = (portgroup?: string) =>
    placeOnNetwork(network, { network: "net", portgroup }).vlan;
  assert.deepEqual(vlanAt("vlan-20"), { trunk: false, tags: [{ id: 20 }] });
  assert.deepEqual(vlanAt("untagged"), { trunk: false, tags: [{ id: 30 }] });
  assert.deepEqual(vlanAt(undefined), { trunk: false, tags: [{ id: 30 }] });
});

Deno.test("reads the recorded virsh answers of every sample network", () => {
  const kinds = ["br-net", "default", "off-net", "ovs-net", "ovs-plain"].map((name) => {
    const network = recordedNetwork(name);
    return [network.name, network.kind, network.active];
  });
  assert.deepEqual(kinds, [
    ["br-net", "Linux bridge", true],
    ["default", "NAT", true],
    ["off-net", "Linux bridge", false],
    ["ovs-net", "Open vSwitch", true],
    ["ovs-plain", "Open vSwitch", true],
  ]);
});
