// What the hook reads from virsh and where it places a vNIC: the rules that decide the VLAN.
import assert from "node:assert/strict";
import { parseNetworkReport, placeOnNetwork } from "../lib/network.ts";
import { LibvirtUnavailable } from "../lib/refusal.ts";
import { recordedNetwork } from "./helpers.ts";

// `virsh net-info NAME; net-dumpxml NAME` for a network whose XML is `body`.
function report(body: string, info = "Name:           net\nActive:         yes\n"): string {
  return `${info}\n<network>\n  <name>net</name>\n  <forward mode='bridge'/>\n${body}</network>\n`;
}

Deno.test("takes virsh output it cannot trust as libvirt not answering", () => {
  const cases: [string, string, RegExp][] = [
    ["no XML", "Name:           net\nActive:         yes\n", /printed no network XML/],
    ["no name", report("", "Active:         yes\n"), /printed no network name/],
    ["another network's XML", report("", "Name:           other\n"), /another network's XML/],
    ["XML that is not well-formed", report("<bridge name='br0'>"), /not well-formed/],
    ["garbage", "Segmentation fault\n", /printed no network XML/],
    ...[
      ["<vlan><tag id='abc'/></vlan>", /<tag id="abc">, expected a VLAN id 0-4095/],
      ["<vlan><tag id='99999'/></vlan>", /<tag id="99999">, expected a VLAN id 0-4095/],
      ["<vlan><tag id='4096'/></vlan>", /<tag id="4096">/],
      ["<vlan><tag id='-1'/></vlan>", /<tag id="-1">/],
      ["<vlan><tag id='1e3'/></vlan>", /<tag id="1e3">/],
      ["<vlan><tag id=''/></vlan>", /<tag id="">/],
      ["<vlan><tag/></vlan>", /<tag id="">/],
      ["<vlan trunk='maybe'><tag id='1'/></vlan>", /<vlan trunk="maybe">, expected yes or no/],
      ["<vlan trunk='yes'><tag id='1' nativeMode='x'/></vlan>", /nativeMode="x">, expected tagged/],
      [
        "<portgroup name='pg'><vlan><tag id='20 '/></vlan></portgroup>",
        /network 'net' with portgroup 'pg': <tag id="20 ">/,
      ],
    ].map(([body, reason]) =>
      [`VLAN ${body}`, report(`${body}\n`), reason] as [string, string, RegExp]
    ),
  ];
  for (const [what, output, reason] of cases) {
    assert.throws(() => parseNetworkReport(output), (error: Error) => {
      // At a live update this means "rewrite unchecked", as when virsh does not answer.
      assert.ok(error instanceof LibvirtUnavailable, what);
      assert.match(error.message, reason, what);
      return true;
    });
  }
});

Deno.test("reads VLAN ids 0 to 4095 and the trunk and native settings libvirt writes", () => {
  const network = parseNetworkReport(report(
    "  <vlan trunk='yes'><tag id='0'/><tag id='4095' nativeMode='untagged'/></vlan>\n" +
      "  <portgroup name='pg'><vlan trunk='no'><tag id='20' nativeMode='tagged'/></vlan></portgroup>\n",
  ));
  assert.deepEqual(network.vlan, {
    trunk: true,
    tags: [{ id: 0 }, { id: 4095, nativeMode: "untagged" }],
  });
  assert.deepEqual(network.portgroups[0].vlan, {
    trunk: false,
    tags: [{ id: 20, nativeMode: "tagged" }],
  });
});

Deno.test("reads net-info in linear time, whatever its lines hold", () => {
  for (const line of [" ".repeat(100_000), "A".repeat(100_000), `${" ".repeat(100_000)}:`]) {
    const started = performance.now();
    const network = parseNetworkReport(report("", `Name: net\n${line}\nActive: yes\n`));
    assert.equal(network.active, true);
    assert.ok(performance.now() - started < 500, `${performance.now() - started} ms`);
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
