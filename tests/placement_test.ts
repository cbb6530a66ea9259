/**
 * The doctor's running-vNIC findings: VDSM's extnet_pg record in the live domain XML (captured
 * from a real libvirtd, tests/fixtures/live) against where each vNIC runs and the network's
 * current definition; and reading the running VMs from libvirt's test driver.
 */

import assert from "node:assert/strict";
import { liveDomainXmls } from "../admin/host/domains.ts";
import {
  assessVnic,
  readRunningVnics,
  type RunningVnic,
  vnicFindings,
  vnicReport,
} from "../admin/placement.ts";
import type { Network } from "../lib/network.ts";
import { live, recordedNetwork, ROOT, TEST_NETWORKS_URI } from "./helpers.ts";

const NETWORKS = ["ovs-net", "br-net", "default"].map(recordedNetwork);
const problems = (vnics: RunningVnic[], networks: Network[] | undefined = NETWORKS) =>
  vnics.map((vnic) => [vnic.mac, assessVnic(vnic, networks).problem ?? "ok"]);

Deno.test("reads VDSM's extnet_pg record of each vNIC of a live domain, matched by MAC", () => {
  const vnics = readRunningVnics(live("domain-started.xml"));
  assert.deepEqual(
    vnics.map((v) => [v.vm, v.mac, v.property]),
    [
      ["extnet-vm", "56:6f:1a:2b:00:01", "ovs-net:vlan-20"],
      ["extnet-vm", "56:6f:1a:2b:00:02", "br-net:vlan-20"],
      ["extnet-vm", "56:6f:1a:2b:00:03", "default"],
      ["extnet-vm", "56:6f:1a:2b:00:04", "ovs-net"],
      ["extnet-vm", "56:6f:1a:2b:00:05", "ovs-net:vlan-20"],
    ],
  );
  assert.deepEqual(vnics[0].port.target, { network: "ovs-net", portgroup: "vlan-20" });
  assert.equal(vnics[4].port.elsewhere, "bridge ovirtmgmt");
});

Deno.test("a VM's vNICs are where their profile says, but one still on its oVirt bridge", () => {
  assert.deepEqual(problems(readRunningVnics(live("domain-started.xml"))), [
    ["56:6f:1a:2b:00:01", "ok"],
    ["56:6f:1a:2b:00:02", "ok"],
    ["56:6f:1a:2b:00:03", "ok"],
    ["56:6f:1a:2b:00:04", "ok"],
    ["56:6f:1a:2b:00:05", "runs on bridge ovirtmgmt, extnet_pg says ovs-net:vlan-20"],
  ]);
});

Deno.test("after live profile changes, VDSM's record is one update behind and the doctor says so", () => {
  const vnics = readRunningVnics(live("domain-updated.xml"));
  assert.deepEqual(problems(vnics).slice(0, 2), [
    [
      "56:6f:1a:2b:00:01",
      "runs on network ovs-net:vlan-10 (Open vSwitch port, VLAN 10), extnet_pg says ovs-net:vlan-20",
    ],
    // libvirt keeps a Linux-bridge vNIC's old portgroup, which carries no VLAN: not reported.
    ["56:6f:1a:2b:00:02", "ok"],
  ]);
  assert.match(
    assessVnic(vnics[0], NETWORKS).fix!,
    /^restart the VM, or unplug and plug the vNIC, so that the hook redirects it \(if the vNIC profile's extnet_pg says otherwise now, VDSM's record is one live update behind: nothing to do\)$/,
  );
});

Deno.test("a vNIC whose network changed since it started is reported with what differs", () => {
  const vnics = readRunningVnics(live("domain-started.xml")).slice(0, 4);
  const ovs = recordedNetwork("ovs-net");
  const retagged = {
    ...ovs,
    portgroups: ovs.portgroups.map((p) =>
      p.name === "vlan-20" ? { ...p, vlan: { trunk: false, tags: [{ id: 30 }] } } : p
    ),
  };
  const bridgeNow = {
    ...recordedNetwork("br-net"),
    kind: "Open vSwitch" as const,
    openvswitch: true,
  };
  assert.deepEqual(problems(vnics, [retagged, bridgeNow]), [
    [
      "56:6f:1a:2b:00:01",
      "runs on network ovs-net:vlan-20 (Open vSwitch port, VLAN 20), but now portgroup " +
      "'vlan-20' of network 'ovs-net' gives VLAN 30, the port carries VLAN 20",
    ],
    [
      "56:6f:1a:2b:00:02",
      "runs on network br-net:vlan-20 (not Open vSwitch), but now network 'br-net' is Open " +
      "vSwitch, the port is not an Open vSwitch port",
    ],
    [
      "56:6f:1a:2b:00:03",
      "runs on network default (not Open vSwitch), and network 'default' no longer exists",
    ],
    ["56:6f:1a:2b:00:04", "ok"],
  ]);
  assert.deepEqual(
    problems(vnics, undefined).map(([, problem]) => problem),
    ["ok", "ok", "ok", "ok"],
    "without the networks, only the record is compared",
  );
});

Deno.test("finds VDSM's metadata by namespace, not by prefix, and skips what is not a vNIC", () => {
  const domain = (metadata: string) =>
    "<domain><name>web&amp;1</name><metadata>" + metadata + "</metadata><devices>" +
    "<interface type='bridge'><mac address='56:6F:1A:2B:00:01'/><source bridge='ovirtmgmt'/>" +
    "</interface><interface type='network'><mac address='56:6f:1a:2b:00:02'/>" +
    "<source network='default'/></interface><hostdev/></devices></domain>";
  const device = (prefix: string, mac: string, value: string) =>
    `<${prefix}:device mac_address='${mac}'><${prefix}:custom><${prefix}:extnet_pg>${value}` +
    `</${prefix}:extnet_pg></${prefix}:custom></${prefix}:device>`;
  const vnics = readRunningVnics(domain(
    "<ns0:vm xmlns:ns0='http://ovirt.org/vm/1.0'>" + device("ns0", "56:6f:1a:2b:00:01", "br-net") +
      device("ns0", "56:6f:1a:2b:00:09", "br-net") + "</ns0:vm>" +
      "<ovirt-vm:vm xmlns:ovirt-vm='http://example.com/other'>" +
      device("ovirt-vm", "56:6f:1a:2b:00:02", "default") + "</ovirt-vm:vm>",
  ));
  assert.deepEqual(vnics.map((v) => [v.vm, v.mac, v.property]), [
    ["web&amp;1", "56:6f:1a:2b:00:01", "br-net"],
  ]);
  assert.deepEqual(readRunningVnics(domain("")), []);
  const [odd] = readRunningVnics(domain(
    "<o:vm xmlns:o='http://ovirt.org/vm/1.0'>" + device("o", "56:6f:1a:2b:00:01", "a b") +
      "</o:vm>",
  ));
  assert.equal(
    assessVnic(odd, NETWORKS).problem,
    'runs on bridge ovirtmgmt, extnet_pg="a b" is not NETWORK[:PORTGROUP]',
  );
  assert.throws(() => readRunningVnics("<domain>"), SyntaxError);
});

Deno.test("findings: one warn per misplaced vNIC, else one ok line; JSON lists every vNIC", () => {
  const vnics = readRunningVnics(live("domain-started.xml"));
  const findings = vnicFindings({ count: 1, vnics, errors: [] }, NETWORKS);
  assert.deepEqual(findings, [{
    check: "vnic",
    status: "warn",
    message: "VM extnet-vm: vNIC 56:6f:1a:2b:00:05 runs on bridge ovirtmgmt, extnet_pg says " +
      "ovs-net:vlan-20",
    fix: "restart the VM, or unplug and plug the vNIC, so that the hook redirects it (if the " +
      "vNIC profile's extnet_pg says otherwise now, VDSM's record is one live update behind: " +
      "nothing to do)",
  }]);
  assert.deepEqual(vnicFindings({ count: 2, vnics: vnics.slice(0, 1), errors: [] }, NETWORKS), [{
    check: "vms",
    status: "ok",
    message: "2 running VMs, 1 vNIC with extnet_pg: all where their profile says",
  }]);
  assert.deepEqual(
    vnicFindings({ count: 0, vnics: [], errors: ["cannot list the running VMs: x"] }, NETWORKS)
      .map((f) => [f.check, f.status, f.message]),
    [["vms", "warn", "the running VMs were not all read: cannot list the running VMs: x"]],
  );
  const report = vnicReport({ count: 1, vnics, errors: [] }, NETWORKS);
  assert.deepEqual(report[0], {
    vm: "extnet-vm",
    mac: "56:6f:1a:2b:00:01",
    extnet_pg: "ovs-net:vlan-20",
    runsOn: "network ovs-net:vlan-20 (Open vSwitch port, VLAN 20)",
    network: "ovs-net",
    portgroup: "vlan-20",
    status: "ok",
  });
  assert.equal(report.length, 5);
});

Deno.test("reads every running domain's live XML in two virsh runs", async () => {
  const uri = `test://${ROOT}tests/fixtures/live/running-host.xml`;
  const xmls = await liveDomainXmls(uri);
  assert.deepEqual(
    xmls.map((xml) => /<name>([^<]*)<\/name>/.exec(xml)?.[1]),
    ["web1", "db1", "app1", "plain"],
  );
  assert.ok(xmls.every((xml) => xml.startsWith("<domain") && xml.endsWith("</domain>")));
  assert.deepEqual(await liveDomainXmls(TEST_NETWORKS_URI), [], "no running VM");
  await assert.rejects(
    liveDomainXmls("qemu:///system?socket=/nonexistent/libvirt-sock"),
    /^LibvirtUnavailable: cannot list the running VMs: failed to connect to the hypervisor/,
  );
});
