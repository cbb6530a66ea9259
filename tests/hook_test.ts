import assert from "node:assert/strict";
import { hookPointOf, runHook } from "../lib/hook.ts";
import { type Network, parseNetworkReport, type Vlan } from "../lib/network.ts";
import { LibvirtUnavailable, NetworkNotFound, Refusal } from "../lib/refusal.ts";
import { assertRewritten, corpus, live, recordedLookup, recordedNetwork } from "./helpers.ts";

// Corpus inputs (tests/fixtures/corpus/INDEX.md) that are plain vNICs: every one is rewritten.
const REWRITTEN = [
  "gen-hookinput-device-create-extnet-queues-qos.xml",
  "gen-hookinput-nic-hotplug.xml",
  "gen-hookinput-update-device-started-here.xml",
  "gen-hookinput-update-device-recovered.xml",
  "vdsm-hookinput-device-create-exact.xml",
  "vdsm-bridge-full-queues-sndbuf-qos.xml",
  "vdsm-bridge-filterref-parameters.xml",
  "vdsm-bridge-roundtrip-full.xml",
  "vdsm-bridge-mtu.xml",
  "vdsm-bridge-port-isolated.xml",
  "vdsm-bridge-link-down.xml",
  "vdsm-bridge-engine-driver-queues1.xml",
  "vdsm-bridge-engine42-order.xml",
  "vdsm-bridge-minimal-tabs.xml",
  "vdsm-bridge-live-hibernated.xml",
  "vdsm-bridge-live-ua-alias.xml",
  "vdsm-bridge-hostedengine-live.xml",
  "vdsm-bridge-hotplug-setup-existing.xml",
  "vdsm-bridge-compat.xml",
  "vdsm-bridge-no-mac.xml",
  "vdsm-bridge-v2v-space-in-name.xml",
  "vdsm-update-live-bridge-before.xml",
  "vdsm-update-request-bridge-after.xml",
  "vdsm-hook-extnet-test-input.xml",
  "vdsm-hook-vmfex-test-input.xml",
  "vdsm-hook-allocate-net-test-input.xml",
  "vdsm-hook-macbind-test-input.xml",
  "vdsm-hook-openstacknet-test-input.xml",
  "ovn-hook-input-1.xml",
  "vdsm-network-getxml-source-bridge.xml",
  "vdsm-network-getxml-bandwidth-floor.xml",
  "vdsm-network-live-default-virbr0.xml",
];

const UNPLUGGED = [
  "gen-hookinput-device-create-vdsmdummy.xml",
  "gen-hookinput-update-device-vdsmdummy.xml",
  "vdsm-bridge-empty-source.xml",
  "vdsm-bridge-vdsmdummy-link-down.xml",
  "vdsm-bridge-vdsmdummy-live.xml",
];

// [file, what the one-line refusal must say]
const REFUSED: [string, RegExp][] = [
  ["vdsm-sriov-hostdev-basic.xml", /<interface type="hostdev"> cannot be redirected/],
  ["vdsm-sriov-hostdev-host-address-vlan.xml", /type="hostdev"/],
  ["vdsm-sriov-hostdev-guest-address-vlan.xml", /type="hostdev"/],
  ["vdsm-sriov-hostdev-hostdevlib.xml", /type="hostdev"/],
  ["vdsm-legacy-vhostuser.xml", /type="vhostuser"/],
  ["vdsm-teaming-failover-virtio.xml", /failover <teaming>/],
  [
    "vdsm-legacy-ovs-virtualport-vlan.xml",
    /<virtualport> or <vlan> that network-nat did not write/,
  ],
  ["vdsm-legacy-ovs-update-request.xml", /<virtualport> or <vlan> that network-nat did not write/],
  ["vdsm-network-vmfex-8021qbh.xml", /<virtualport> or <vlan> that network-nat did not write/],
  ["ovn-hook-input-2-garbage-virtualports.xml", /network-nat did not write/],
  ["ovn-hook-output-1.xml", /network-nat did not write/],
  ["libvirt-doc-interface-network-portgroup.xml", /network-nat did not write/],
  ["vdsm-bridge-no-source-boot-only.xml", /exactly one <source>.*found 0/],
  ["vdsm-domain-engine-replace-md-base.xml", /holds a <domain> element, not one <interface>/],
  ["vdsm-domain-sriov-and-vdsmdummy.xml", /<domain>/],
  ["gen-domain-after-device-create-noop.xml", /<domain>/],
  ["synthetic-engine-hotplug-request.xml", /<hotplug>/],
  ["libvirt-network-openvswitch-portgroups.xml", /<network>/],
];

Deno.test("rewrites every plain vNIC shape onto a Linux-bridge network, touching nothing else", async () => {
  for (const file of REWRITTEN) {
    for (const property of ["br-net:vlan-20", "br-net"]) {
      const input = corpus(file);
      const target = property.includes(":")
        ? { network: "br-net", portgroup: "vlan-20" }
        : { network: "br-net" };
      const result = await runHook({ property, xml: input, lookupNetwork: recordedLookup });
      assert.ok(result.xml, `${file}: rewritten`);
      assertRewritten(input, result.xml, target);
      const again = await runHook({ property, xml: result.xml, lookupNetwork: recordedLookup });
      assert.equal(again.xml, undefined, `${file}: running on the output changes nothing`);
    }
  }
});

Deno.test("keeps filter references and port isolation on a Linux-bridge network", async () => {
  for (const file of ["vdsm-bridge-port-isolated.xml", "vdsm-hookinput-device-create-exact.xml"]) {
    const { xml } = await runHook({
      property: "br-net",
      xml: corpus(file),
      lookupNetwork: recordedLookup,
    });
    assert.match(xml!, /<filterref filter="vdsm-no-mac-spoofing"|<port isolated="yes"\/>/);
  }
});

Deno.test("rewrites the one-line hot-plug input without adding a newline", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const { xml } = await runHook({
    property: "br-net:vlan-20",
    xml: input,
    lookupNetwork: recordedLookup,
  });
  assert.equal(
    xml,
    input.replace('type="bridge"', 'type="network"').replace(
      '<source bridge="ovirtmgmt" />',
      '<source network="br-net" portgroup="vlan-20" />',
    ),
  );
});

Deno.test("writes new attributes in the tag's own quote style", async () => {
  const { xml } = await runHook({
    property: "br-net:vlan-20",
    xml: corpus("vdsm-network-live-default-virbr0.xml"),
    lookupNetwork: recordedLookup,
  });
  assert.match(xml!, /<interface type='network'>/);
  assert.match(xml!, /<source network='br-net' portgroup='vlan-20'\/>/);
});

Deno.test("keeps CRLF line ends, comments and a byte order mark as they are", async () => {
  const input = "\uFEFF<?xml version='1.0'?>\r\n<!-- <source bridge='x'/> -->\r\n" +
    "<interface type='bridge'>\r\n  <source\r\n    bridge='ovirtmgmt'\r\n  />\r\n" +
    "  <![CDATA[<source bridge='y'/>]]>\r\n</interface>\r\n";
  const { xml } = await runHook({ property: "default", xml: input, lookupNetwork: recordedLookup });
  assert.equal(
    xml,
    input.replace("type='bridge'", "type='network'").replace(
      "bridge='ovirtmgmt'",
      "network='default'",
    ),
  );
});

Deno.test("leaves an unplugged vNIC byte-identical and says so", async () => {
  for (const file of UNPLUGGED) {
    const result = await runHook({
      property: "ovs-net:vlan-20",
      xml: corpus(file),
      lookupNetwork: recordedLookup,
    });
    assert.equal(result.xml, undefined, file);
    assert.match(result.message!, /has no network \(unplugged\); left as it is/);
  }
});

Deno.test("does nothing at all without extnet_pg", async () => {
  let looked = false;
  const result = await runHook({
    xml: "not even XML",
    lookupNetwork: () => {
      looked = true;
      return recordedLookup("br-net");
    },
  });
  assert.deepEqual(result, {});
  assert.equal(looked, false);
});

Deno.test("refuses shapes that cannot be redirected, naming the vNIC", async () => {
  for (const [file, reason] of REFUSED) {
    await assert.rejects(
      runHook({ property: "br-net:vlan-20", xml: corpus(file), lookupNetwork: recordedLookup }),
      (error: Error) => {
        assert.ok(error instanceof Refusal, `${file}: ${error}`);
        assert.match(error.message, reason, file);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  }
});

Deno.test("refuses malformed or bad values of extnet_pg", async () => {
  const bad = [
    "",
    ":vlan-20",
    "ovs-net:",
    "a:b:c",
    "ovs net",
    '"ovs-net"',
    "ovs/net",
    "ovs-nét",
    "ovs-net\n",
    "ovs\u0000net",
    "x".repeat(65),
    `ovs-net:${"p".repeat(65)}`,
  ];
  for (const property of bad) {
    await assert.rejects(
      runHook({ property, xml: corpus("gen-hookinput-nic-hotplug.xml") }),
      (error: Error) => {
        assert.ok(error instanceof Refusal);
        assert.match(error.message, /^extnet_pg=".*" is not NETWORK or NETWORK:PORTGROUP/);
        assert.match(error.message, /^[\x20-\x7e]+$/, "one printable ASCII line");
        return true;
      },
    );
  }
  for (const property of ["a", "x".repeat(64), `n.1_-:${"p".repeat(64)}`]) {
    const { xml } = await runHook({ property, xml: corpus("gen-hookinput-nic-hotplug.xml") });
    assert.ok(xml);
  }
});

Deno.test("refuses a vNIC on an external-provider network", async () => {
  await assert.rejects(
    runHook({
      property: "br-net",
      providerType: "EXTERNAL_NETWORK",
      xml: corpus("ovn-hook-input-1.xml"),
      lookupNetwork: recordedLookup,
    }),
    /external-provider network \(provider_type="EXTERNAL_NETWORK"/,
  );
  await assert.rejects(
    runHook({
      property: "br-net",
      providerType: "",
      xml: corpus("gen-hookinput-nic-hotplug.xml"),
      lookupNetwork: recordedLookup,
    }),
    /external-provider network \(provider_type=""/,
  );
});

Deno.test("refuses interface shapes it cannot place for sure, naming the vNIC", async () => {
  const hotplug = corpus("gen-hookinput-nic-hotplug.xml");
  const source = '<source bridge="ovirtmgmt" />';
  // The hook's own Open vSwitch output, which it recognizes by its exact shape.
  const { xml: ours } = await runHook({
    property: "ovs-net:vlan-20",
    xml: hotplug.replace(/<filterref[^>]*>/, ""),
    lookupNetwork: recordedLookup,
  });
  const cases: [string, string, RegExp][] = [
    ["two sources", hotplug.replace(source, source + source), /exactly one <source>.*found 2/],
    ["a source with no network", hotplug.replace(source, '<source dev="eth0" />'), /neither/],
    ["type direct", hotplug.replace('type="bridge"', 'type="direct"'), /type="direct"/],
    ["a virtualport of another type", ours!.replace('"openvswitch"', '"802.1Qbh"'), /not write/],
    ["a virtualport with more", ours!.replace("<virtualport ", '<virtualport x="1" '), /not write/],
    ["parameters with more", ours!.replace("<parameters ", '<parameters profileid="p" '), /not/],
    ["a second vlan", ours!.replace("<vlan>", "<vlan><tag id='30'/></vlan><vlan>"), /not write/],
  ];
  for (const [what, xml, reason] of cases) {
    await assert.rejects(
      runHook({ property: "ovs-net:vlan-20", xml, lookupNetwork: recordedLookup }),
      (error: Error) => {
        assert.ok(error instanceof Refusal, what);
        assert.match(error.message, /^vNIC 56:6f:1a:2b:00:04: /, what);
        assert.match(error.message, reason, what);
        return true;
      },
    );
  }
});

Deno.test("refuses device XML that is not well-formed, or that has a DOCTYPE", async () => {
  const inputs = [
    '<interface type="bridge"><source bridge="x"></interface>',
    '<!DOCTYPE i [<!ENTITY e "x">]><interface type="bridge"><source bridge="&e;"/></interface>',
    '<interface type="bridge"><source bridge="x"/></interface><interface/>',
    "",
  ];
  for (const xml of inputs) {
    await assert.rejects(runHook({ property: "br-net", xml }), /is not well-formed XML/);
  }
});

Deno.test("refuses a network that is not active, or a portgroup it does not have", async () => {
  const xml = corpus("gen-hookinput-nic-hotplug.xml");
  await assert.rejects(
    runHook({ property: "off-net", xml, lookupNetwork: recordedLookup }),
    /libvirt network 'off-net' is not active; start it with 'virsh net-start off-net'/,
  );
  await assert.rejects(
    runHook({ property: "ovs-net:vlan-2", xml, lookupNetwork: recordedLookup }),
    /network 'ovs-net' has no portgroup 'vlan-2' \(it has: vlan-10, vlan-20, trunk\); fix extnet_pg/,
  );
  await assert.rejects(
    runHook({ property: "default:vlan-20", xml, lookupNetwork: recordedLookup }),
    /has no portgroup 'vlan-20' \(it has: none\)/,
  );
});

const OVS_PORT = '<virtualport type="openvswitch"><parameters ' +
  'interfaceid="11111111-1111-4111-8111-111111111111"/></virtualport>';

Deno.test("on Open vSwitch adds the stable port id and the portgroup's VLAN after <source>", async () => {
  const input = corpus("gen-hookinput-update-device-recovered.xml").replace(
    /\s*<filterref[^]*<\/filterref>/,
    "",
  );
  const { xml, message } = await runHook({
    property: "ovs-net:vlan-20",
    xml: input,
    lookupNetwork: recordedLookup,
  });
  assertRewritten(
    input,
    xml!,
    { network: "ovs-net", portgroup: "vlan-20" },
    `\n    <vlan><tag id="20"/></vlan>\n    ${OVS_PORT}`,
  );
  assert.equal(
    message,
    "vNIC 56:6f:1a:2b:00:01 -> network ovs-net:vlan-20 (Open vSwitch, VLAN 20)",
  );
  const again = await runHook({
    property: "ovs-net:vlan-20",
    xml: xml!,
    lookupNetwork: recordedLookup,
  });
  assert.equal(again.xml, undefined, "idempotent");
});

Deno.test("drops a stale portid from the source", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml")
    .replace('<source bridge="ovirtmgmt" />', '<source bridge="ovirtmgmt" portid="1-2-3" />');
  const { xml } = await runHook({ property: "br-net", xml: input, lookupNetwork: recordedLookup });
  assert.match(xml!, /<source network="br-net" \/>/);
});

Deno.test("follows a live portgroup change by replacing its own VLAN", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml").replace(/<filterref[^>]*>/, "");
  const first = await runHook({
    property: "ovs-net:vlan-20",
    xml: input,
    lookupNetwork: recordedLookup,
  });
  const moved = await runHook({
    property: "ovs-net:vlan-10",
    xml: first.xml!,
    lookupNetwork: recordedLookup,
  });
  assert.match(
    moved.xml!,
    /<source network="ovs-net" portgroup="vlan-10" \/><vlan><tag id="10"\/><\/vlan><virtualport/,
  );
  assert.equal(moved.xml!.match(/<vlan>/g)?.length, 1);
  const offOvs = await runHook({
    property: "br-net",
    xml: first.xml!,
    lookupNetwork: recordedLookup,
  });
  assert.doesNotMatch(offOvs.xml!, /<vlan>|<virtualport/, "leaving Open vSwitch drops them");
});

Deno.test("uses the network's default portgroup and copies trunk VLANs exactly", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml").replace(/<filterref[^>]*>/, "");
  const { xml, message } = await runHook({
    property: "ovs-net",
    xml: input,
    lookupNetwork: recordedLookup,
  });
  assert.match(
    xml!,
    /<source network="ovs-net" \/><vlan trunk="yes"><tag id="10"\/><tag id="20" nativeMode="untagged"\/><\/vlan>/,
  );
  assert.equal(
    message,
    "vNIC 56:6f:1a:2b:00:04 -> network ovs-net (Open vSwitch, trunk 10,20 (native 20 untagged))",
  );
});

Deno.test("says when an Open vSwitch port gets no VLAN and so carries every VLAN", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml").replace(/<filterref[^>]*>/, "");
  const { xml, message } = await runHook({
    property: "ovs-plain",
    xml: input,
    lookupNetwork: recordedLookup,
  });
  assert.match(xml!, /<source network="ovs-plain" \/><virtualport type="openvswitch">/);
  assert.equal(
    message,
    "vNIC 56:6f:1a:2b:00:04 -> network ovs-plain (Open vSwitch, no VLAN: the port carries every VLAN)",
  );
});

Deno.test("on Open vSwitch refuses a network filter and port isolation, saying what to change", async () => {
  await assert.rejects(
    runHook({
      property: "ovs-net:vlan-20",
      xml: corpus("vdsm-hookinput-device-create-exact.xml"),
      lookupNetwork: recordedLookup,
    }),
    /vNIC 00:1a:4a:16:01:12: libvirt cannot apply a network filter on Open vSwitch network 'ovs-net'; set the vNIC profile's network filter to "No Network Filter"/,
  );
  const isolated = corpus("vdsm-bridge-port-isolated.xml").replace(/<filterref[^>]*>/, "");
  await assert.rejects(
    runHook({ property: "ovs-net:vlan-20", xml: isolated, lookupNetwork: recordedLookup }),
    /Open vSwitch network 'ovs-net' cannot isolate ports/,
  );
});

Deno.test("derives the port id from the MAC address when there is no oVirt alias", async () => {
  const input = corpus("vdsm-bridge-no-mac.xml").replace(
    "<model",
    '<mac address="00:1A:4A:16:01:51"/><model',
  );
  const { xml } = await runHook({
    property: "ovs-net:vlan-20",
    xml: input,
    lookupNetwork: recordedLookup,
  });
  const id = /interfaceid="([^"]+)"/.exec(xml!)![1];
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const lower = await runHook({
    property: "ovs-net:vlan-10",
    xml: input.replace("00:1A:4A:16:01:51", "00:1a:4a:16:01:51"),
    lookupNetwork: recordedLookup,
  });
  assert.ok(lower.xml!.includes(id), "the same vNIC gets the same id");
  await assert.rejects(
    runHook({
      property: "ovs-net",
      xml: corpus("vdsm-bridge-no-mac.xml"),
      lookupNetwork: recordedLookup,
    }),
    /neither an oVirt alias nor a MAC address/,
  );
});

Deno.test("refuses a virtualport whose port id is not this vNIC's", async () => {
  const { xml } = await runHook({
    property: "ovs-net:vlan-20",
    xml: corpus("gen-hookinput-nic-hotplug.xml").replace(/<filterref[^>]*>/, ""),
    lookupNetwork: recordedLookup,
  });
  const other = xml!.replace('alias name="ua-4444', 'alias name="ua-5555');
  await assert.rejects(
    runHook({ property: "ovs-net:vlan-20", xml: other, lookupNetwork: recordedLookup }),
    /network-nat did not write/,
  );
});

Deno.test("learns the hook point from the directory of its link", () => {
  const table: [string, string | undefined][] = [
    ["/usr/libexec/vdsm/hooks/before_device_create/50_network_nat", "before_device_create"],
    ["/usr/libexec/vdsm/hooks/before_nic_hotplug/50_network_nat", "before_nic_hotplug"],
    ["/usr/libexec/vdsm/hooks/before_update_device/50_network_nat", "before_update_device"],
    [
      "/usr/libexec/vdsm/hooks/before_device_migrate_destination/50_network_nat",
      "before_device_migrate_destination",
    ],
    ["/usr/libexec/vdsm/hooks/after_device_create/50_network_nat", undefined],
    ["main.ts", undefined],
    ["", undefined],
  ];
  for (const [path, point] of table) assert.equal(hookPointOf(path), point, path);
});

Deno.test("at a live update, rewrites without the check when libvirt cannot be asked", async () => {
  // Refusing there would make VDSM hand libvirt the un-hooked XML, which moves the tap of a
  // Linux-bridge network onto the oVirt bridge; Open vSwitch refuses this plain rewrite.
  const unavailable = () =>
    Promise.reject(
      new LibvirtUnavailable("cannot check libvirt network 'br-net': virsh timed out"),
    );
  const input = corpus("gen-hookinput-update-device-started-here.xml");
  const update = await runHook({
    point: "before_update_device",
    property: "br-net:vlan-20",
    xml: input,
    lookupNetwork: unavailable,
  });
  assertRewritten(input, update.xml!, { network: "br-net", portgroup: "vlan-20" });
  assert.match(update.message!, /-> network br-net:vlan-20 \(not checked: cannot check libvirt/);
  for (const point of ["before_device_create", "before_nic_hotplug"] as const) {
    await assert.rejects(
      runHook({ point, property: "br-net:vlan-20", xml: input, lookupNetwork: unavailable }),
      /virsh timed out/,
    );
  }
  // virsh exiting 0 with garbage is libvirt not answering too.
  const garbage = await runHook({
    point: "before_update_device",
    property: "br-net:vlan-20",
    xml: input,
    lookupNetwork: () => Promise.resolve().then(() => parseNetworkReport("garbage\n")),
  });
  assertRewritten(input, garbage.xml!, { network: "br-net", portgroup: "vlan-20" });
  assert.match(garbage.message!, /\(not checked: virsh printed no network XML/);
  await assert.rejects(
    runHook({
      point: "before_update_device",
      property: "ovs-net:vlan-2",
      xml: input,
      lookupNetwork: recordedLookup,
    }),
    /has no portgroup 'vlan-2'/,
    "a definite answer from libvirt is still a refusal",
  );
});

Deno.test("refuses a network that virsh found by UUID rather than by name", async () => {
  const network = recordedNetwork("ovs-net");
  const byUuid = "d8de0a41-9f25-4362-b470-cf82ba8ae871";
  await assert.rejects(
    runHook({
      property: byUuid,
      xml: corpus("gen-hookinput-nic-hotplug.xml"),
      lookupNetwork: () => Promise.resolve(network),
    }),
    new RegExp(
      `network '${byUuid}' does not exist on this host \\(virsh found 'ovs-net' by that UUID\\)`,
    ),
  );
});

// This host's networks as recorded, with one of them changed.
const changed = (name: string, change: (network: Network) => Network) => (asked: string) =>
  asked === name ? Promise.resolve(change(recordedNetwork(name))) : recordedLookup(asked);
const vlan = (...ids: number[]) => ({ trunk: false, tags: ids.map((id) => ({ id })) });
const withPortgroupVlan = (portgroup: string, tags: Vlan) => (network: Network) => ({
  ...network,
  portgroups: network.portgroups.map((p) => p.name === portgroup ? { ...p, vlan: tags } : p),
});

Deno.test("at the migration destination accepts the placement the VM keeps, and says where", async () => {
  // [live capture, extnet_pg as VDSM's record has it, the log line]
  const cases: [string, string, RegExp][] = [
    [
      "started-ovs-net-vlan-20.xml",
      "ovs-net:vlan-20",
      /^vNIC 56:6f:1a:2b:00:01: network ovs-net:vlan-20 \(Open vSwitch, VLAN 20\) is ready on this host$/,
    ],
    [
      "started-ovs-net.xml",
      "ovs-net",
      /^vNIC 56:6f:1a:2b:00:04: network ovs-net \(Open vSwitch, trunk 10,20 \(native 20 untagged\)\) is ready/,
    ],
    ["started-default.xml", "default", /^vNIC 56:6f:1a:2b:00:03: network default \(NAT\) is ready/],
    ["started-br-net-vlan-20.xml", "br-net:vlan-20", /br-net:vlan-20 \(Linux bridge\) is ready/],
    // libvirt keeps the old portgroup of a Linux-bridge vNIC after a live change to br-net.
    ["updated-br-net-vlan-20.xml", "br-net", /br-net:vlan-20 \(Linux bridge\) is ready/],
    // VDSM's record is one live update behind a change from vlan-20 to vlan-10.
    [
      "updated-ovs-net-vlan-10.xml",
      "ovs-net:vlan-20",
      /^vNIC 56:6f:1a:2b:00:01 runs on network ovs-net:vlan-10 \(Open vSwitch port, VLAN 10\) on the source host and keeps it here, though extnet_pg says ovs-net:vlan-20 \(VDSM's record can lag one live update behind, or the profile changed since\); to redirect it, restart the VM, or unplug and plug the vNIC$/,
    ],
    // Started before the hook was installed.
    [
      "started-bridge-ovirtmgmt.xml",
      "ovs-net:vlan-20",
      /^vNIC 56:6f:1a:2b:00:05 runs on bridge ovirtmgmt on the source host and keeps it here, though extnet_pg says ovs-net:vlan-20; to redirect it, restart the VM, or unplug and plug the vNIC$/,
    ],
    ["started-default.xml", "ovs net", /keeps it here, though extnet_pg="ovs net" is not NETWORK/],
  ];
  for (const [file, property, line] of cases) {
    const result = await runHook({
      point: "before_device_migrate_destination",
      property,
      xml: live(file),
      lookupNetwork: recordedLookup,
    });
    assert.equal(result.xml, undefined, file);
    assert.match(result.message!, line, file);
  }
  const unchecked = await runHook({
    point: "before_device_migrate_destination",
    property: "ovs-net:vlan-20",
    xml: live("started-ovs-net-vlan-20.xml"),
  });
  assert.match(unchecked.message!, /ovs-net:vlan-20 \(not checked: libvirt was not consulted\)/);
});

Deno.test("at the migration destination leaves vNICs on no libvirt network to the migration", async () => {
  const cases: [string, RegExp][] = [
    ["vdsm-bridge-vdsmdummy-live.xml", /has no network \(unplugged\); left as it is$/],
    [
      "vdsm-sriov-hostdev-basic.xml",
      /^vNIC 00:1a:4a:16:91:df has no libvirt network \(an <interface type="hostdev">\); left as it is$/,
    ],
    ["vdsm-teaming-failover-virtio.xml", /runs on bridge ovirtmgmt on the source host/],
  ];
  for (const [file, line] of cases) {
    const { xml, message } = await runHook({
      point: "before_device_migrate_destination",
      property: "ovs-net:vlan-20",
      xml: corpus(file),
      lookupNetwork: () => Promise.reject(new Error("not asked")),
    });
    assert.equal(xml, undefined);
    assert.match(message!, line, file);
  }
});

Deno.test("at the migration destination refuses when this host would give the port something else", async () => {
  type Lookup = (name: string) => Promise<Network>;
  // [live capture, this host's networks, the one-line refusal]
  const cases: [string, Lookup, RegExp][] = [
    [
      "started-ovs-net-vlan-20.xml",
      changed("ovs-net", withPortgroupVlan("vlan-20", vlan(30))),
      /^vNIC 56:6f:1a:2b:00:01 runs on network ovs-net:vlan-20 \(Open vSwitch port, VLAN 20\) on the source host, but here portgroup 'vlan-20' of network 'ovs-net' gives VLAN 30, the port carries VLAN 20; define network 'ovs-net' the same on every host$/,
    ],
    [
      // The VLAN of the live portgroup counts, not that of extnet_pg's.
      "updated-ovs-net-vlan-10.xml",
      changed("ovs-net", withPortgroupVlan("vlan-10", vlan(11))),
      /portgroup 'vlan-10' of network 'ovs-net' gives VLAN 11, the port carries VLAN 10/,
    ],
    [
      "started-ovs-net.xml",
      changed(
        "ovs-net",
        withPortgroupVlan("trunk", { trunk: true, tags: [{ id: 10 }, { id: 20 }] }),
      ),
      /gives trunk 10,20, the port carries trunk 10,20 \(native 20 untagged\)/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      changed("ovs-net", (n) => ({ ...n, portgroups: n.portgroups.slice(0, 1) })),
      /, but here network 'ovs-net' has no portgroup 'vlan-20' \(it has: vlan-10\); define network 'ovs-net' the same/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      changed("ovs-net", () => ({ ...recordedNetwork("br-net"), name: "ovs-net" })),
      /, but here network 'ovs-net' is Linux bridge, the port is an Open vSwitch port; define/,
    ],
    [
      "started-br-net-vlan-20.xml",
      changed("br-net", (n) => ({ ...n, kind: "Open vSwitch", openvswitch: true })),
      /, but here network 'br-net' is Open vSwitch, the port is not an Open vSwitch port/,
    ],
    [
      "started-default.xml",
      changed("default", (n) => ({ ...n, active: false })),
      /, but here network 'default' is not active; start it: virsh net-start default && virsh net-autostart default$/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      changed("ovs-net", () => recordedNetwork("ovs-plain")),
      /, and this host has no network 'ovs-net'; define network 'ovs-net' the same on every host$/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      () => Promise.reject(new NetworkNotFound("ovs-net", "no such network")),
      /^vNIC 56:6f:1a:2b:00:01 runs on network ovs-net:vlan-20 \(Open vSwitch port, VLAN 20\) on the source host, and this host has no network 'ovs-net'/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      () => Promise.reject(new LibvirtUnavailable("virsh did not answer within 5 s")),
      /on the source host; cannot check that this host gives it the same port: virsh did not answer/,
    ],
  ];
  for (const [file, lookupNetwork, reason] of cases) {
    // extnet_pg does not matter: the port the VM keeps is checked, also when it differs.
    for (const property of ["ovs-net:vlan-20", "ovs-net:vlan-10", "br-net"]) {
      await assert.rejects(
        runHook({
          point: "before_device_migrate_destination",
          property,
          xml: live(file),
          lookupNetwork,
        }),
        (error: Error) => {
          assert.ok(error instanceof Refusal, `${file}: ${error}`);
          assert.match(error.message, reason, file);
          assert.match(error.message, /^[\x20-\x7e]+$/, "one printable ASCII line");
          return true;
        },
      );
    }
  }
  await assert.rejects(
    runHook({ point: "before_device_migrate_destination", property: "br-net", xml: "<interface" }),
    /the device XML is not well-formed XML/,
  );
});
