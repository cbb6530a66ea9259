/**
 * The fleet comparison without I/O: reports read or refused, each kind of
 * difference between hosts, the extnet_pg values it breaks, and the table.
 */

import assert from "node:assert/strict";
import { HOOK_POINTS } from "../lib/hook.ts";
import type { Network } from "../lib/network.ts";
import { renderJson } from "../admin/doctor.ts";
import {
  compareFleet,
  type HostReport,
  parseReport,
  renderFleet,
  renderFleetJson,
} from "../admin/fleet.ts";
import { recordedNetwork } from "./helpers.ts";

/** The recorded sample networks, active and autostarted, as a well-kept host has them. */
function networks(): Network[] {
  return ["br-net", "default", "ovs-net"].map((name) => ({
    ...recordedNetwork(name),
    autostart: true,
  }));
}

function host(name: string, change: (networks: Network[]) => Network[] = (n) => n): HostReport {
  return {
    file: `${name}.json`,
    host: name,
    summary: { ok: 12, warn: 0, fail: 0 },
    networks: change(networks()),
    libvirt: { uri: "qemu:///system", user: "vdsm" },
    hook: {
      checkout: "/opt/network-nat",
      hooksDir: "/usr/libexec/vdsm/hooks",
      links: Object.fromEntries(HOOK_POINTS.map((point) => [point, "linked" as const])),
      deno: { path: "/usr/local/bin/deno", version: "deno 2.9.6 (stable, release, x86_64)" },
      selfTest: {
        ran: true,
        points: Object.fromEntries(HOOK_POINTS.map((point) => [point, "pass" as const])),
      },
    },
  };
}

/** Applies `change` to network `name` only. */
function onNetwork(name: string, change: (network: Network) => Network | undefined) {
  return (all: Network[]) => all.flatMap((n) => n.name === name ? change(n) ?? [] : [n]);
}

function withPortgroups(network: Network, portgroups: Network["portgroups"]): Network {
  return { ...network, portgroups };
}

const CASES: {
  name: string;
  drift: (networks: Network[]) => Network[];
  cell: string;
  difference: RegExp;
  values: Record<string, RegExp>;
}[] = [
  {
    name: "a network missing",
    drift: onNetwork("br-net", () => undefined),
    cell: "missing",
    difference: /^br-net is missing on hv2: define it there as on hv1 \(virsh net-define; /,
    values: {
      "br-net": /refused on hv2 \(no such network\)/,
      "br-net:vlan-20": /refused on hv2 \(no such network\)/,
    },
  },
  {
    name: "a network inactive",
    drift: onNetwork("br-net", (n) => ({ ...n, active: false })),
    cell: "inactive",
    difference: /^br-net is inactive on hv2: virsh net-start br-net there$/,
    values: {
      "br-net": /refused on hv2 \(network inactive\)/,
      "br-net:vlan-20": /refused on hv2 \(network inactive\)/,
    },
  },
  {
    name: "a network not autostarted",
    drift: onNetwork("br-net", (n) => ({ ...n, autostart: false })),
    cell: "no autostart",
    difference: /^br-net is not autostarted on hv2: virsh net-autostart br-net there$/,
    values: {},
  },
  {
    name: "Open vSwitch on one host, a Linux bridge on the other",
    drift: onNetwork("ovs-net", (n) => ({ ...n, kind: "Linux bridge", openvswitch: false })),
    cell: "differs",
    difference: /^ovs-net on hv2 differs from hv1: Linux bridge, not Open vSwitch: /,
    values: {
      "ovs-net": /: Open vSwitch, trunk 10,20 \(native 20 untagged\) on hv1; not Open vSwitch on/,
      "ovs-net:trunk": /: Open vSwitch, trunk 10,20 \(native 20 untagged\) on hv1; not Open /,
      "ovs-net:vlan-10": /: Open vSwitch, VLAN 10 on hv1; not Open vSwitch on hv2$/,
      "ovs-net:vlan-20":
        /^migrations refused .*: Open vSwitch, VLAN 20 on hv1; not Open vSwitch on hv2$/,
    },
  },
  {
    name: "a portgroup missing",
    drift: onNetwork(
      "ovs-net",
      (n) => withPortgroups(n, n.portgroups.filter((p) => p.name !== "vlan-20")),
    ),
    cell: "differs",
    difference: /^ovs-net on hv2 differs from hv1: no portgroup vlan-20: define it the same/,
    values: { "ovs-net:vlan-20": /^refused on hv2 \(no portgroup vlan-20\): VM starts/ },
  },
  {
    name: "another VLAN",
    drift: onNetwork("ovs-net", (n) =>
      withPortgroups(
        n,
        n.portgroups.map((p) =>
          p.name === "vlan-20" ? { ...p, vlan: { trunk: false, tags: [{ id: 21 }] } } : p
        ),
      )),
    cell: "differs",
    difference: /: portgroup vlan-20 has VLAN 21, not VLAN 20: /,
    values: {
      "ovs-net:vlan-20": /Open vSwitch, VLAN 20 on hv1; Open vSwitch, VLAN 21 on hv2$/,
    },
  },
  {
    name: "a trunk that is not one",
    drift: onNetwork("ovs-net", (n) =>
      withPortgroups(
        n,
        n.portgroups.map((p) =>
          p.name === "trunk" ? { ...p, vlan: { trunk: false, tags: [{ id: 10 }] } } : p
        ),
      )),
    cell: "differs",
    difference: /: portgroup trunk has VLAN 10, not trunk 10,20 \(native 20 untagged\)/,
    values: {
      "ovs-net": /trunk 10,20 \(native 20 untagged\) on hv1; Open vSwitch, VLAN 10 on hv2$/,
      "ovs-net:trunk": /trunk 10,20 \(native 20 untagged\) on hv1; Open vSwitch, VLAN 10 /,
    },
  },
  {
    name: "another default portgroup",
    drift: onNetwork(
      "ovs-net",
      (n) =>
        withPortgroups(n, n.portgroups.map((p) => ({ ...p, isDefault: p.name === "vlan-10" }))),
    ),
    cell: "differs",
    difference: /: default portgroup vlan-10, not trunk: /,
    values: { "ovs-net": /on hv1; Open vSwitch, VLAN 10 on hv2$/ },
  },
];

for (const { name, drift, cell, difference, values } of CASES) {
  Deno.test(`fleet: ${name} on one host is a difference, with the values it breaks`, () => {
    const fleet = compareFleet([host("hv1"), host("hv2", drift)]);
    assert.equal(fleet.agree, false);
    const rows = fleet.networks.filter((row) => row.differences.length);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].hosts, { hv1: "ok", hv2: cell });
    assert.equal(rows[0].differences.length, 1, rows[0].differences.join("\n"));
    assert.match(rows[0].differences[0], difference);
    assert.deepEqual(fleet.values.map((v) => v.value).sort(), Object.keys(values).sort());
    for (const problem of fleet.values) {
      assert.match(renderFleet(fleet), new RegExp(`^  ${problem.value}: `, "m"));
      const text = renderFleetJson(fleet);
      assert.ok(JSON.parse(text).values.some((v: { value: string }) => v.value === problem.value));
    }
    for (const [value, pattern] of Object.entries(values)) {
      const line = renderFleet(fleet, 1000).split("\n").find((l) => l.startsWith(`  ${value}: `));
      assert.match(line!.slice(value.length + 4), pattern);
    }
  });
}

Deno.test("fleet: hosts with the same networks and a ready hook agree", () => {
  const fleet = compareFleet([host("hv1"), host("hv2"), host("hv3")]);
  assert.equal(fleet.agree, true);
  assert.deepEqual(fleet.values, []);
  assert.deepEqual(fleet.hostProblems, []);
  assert.match(renderFleet(fleet), /^network-nat fleet: 3 hosts agree\n/);
});

Deno.test("fleet: a state shared by every host is a note, not a difference", () => {
  const inactive = onNetwork("default", (n) => ({ ...n, active: false, autostart: false }));
  const fleet = compareFleet([host("hv1", inactive), host("hv2", inactive)]);
  assert.equal(fleet.agree, true);
  const row = fleet.networks.find((n) => n.name === "default")!;
  assert.deepEqual(row.notes, [
    "default is inactive on every host: virsh net-start default on each, if vNICs use it",
    "default is not autostarted on every host: virsh net-autostart default on each, if vNICs use it",
  ]);
  assert.deepEqual(fleet.values, []);
});

Deno.test("fleet: the definition most hosts share is the reference; the odd host is named", () => {
  const odd = onNetwork("br-net", (n) => withPortgroups(n, []));
  const fleet = compareFleet([host("hv1", odd), host("hv2"), host("hv3")]);
  const row = fleet.networks.find((n) => n.name === "br-net")!;
  assert.deepEqual(row.hosts, { hv1: "differs", hv2: "ok", hv3: "ok" });
  assert.match(row.differences[0], /^br-net on hv1 differs from hv2, hv3: no portgroup vlan-20/);
});

Deno.test("fleet: hook state and libvirt problems of single hosts", () => {
  const unlinked = host("hv2");
  unlinked.hook.links.before_nic_hotplug = "missing";
  unlinked.hook.links.before_update_device = "other";
  unlinked.summary.fail = 2;
  const noDeno = host("hv3");
  noDeno.hook.deno = {};
  const older = host("hv4");
  older.hook.deno.version = "deno 2.1.0 (stable)";
  const blind = host("hv5");
  blind.libvirt.error = "failed to connect to the hypervisor";
  blind.networks = [];
  const fleet = compareFleet([host("hv1"), unlinked, noDeno, older, blind]);
  assert.equal(fleet.agree, false);
  assert.deepEqual(fleet.hostProblems, [
    "hv2: the hook is not installed at before_nic_hotplug, before_update_device in " +
    "/usr/libexec/vdsm/hooks: run 'deno task install' there",
    "hv2: doctor found 2 failures: run 'deno task doctor' there for the fixes",
    "hv3: no deno on vdsmd's PATH: every redirect fails there",
    "hv5: libvirt could not be read (failed to connect to the hypervisor), so its networks " +
    "are unknown: run 'deno task doctor' there",
    "Deno differs: 2.9.6 on hv1, hv2, hv5; 2.1.0 on hv4: install the same Deno on every host",
  ]);
  assert.deepEqual(fleet.hooks.hv2, {
    links: "2/4",
    deno: "2.9.6",
    selfTest: "pass",
    doctorFailures: 2,
  });
  assert.equal(fleet.hooks.hv3.deno, "none");
  // Unknown networks are no difference of their own, but no value is known to work there.
  assert.ok(fleet.networks.every((row) => row.hosts.hv5 === "unknown"));
  assert.ok(fleet.networks.every((row) => row.differences.length === 0));
  assert.ok(fleet.values.every((v) => v.refusedOn.hv5 === "libvirt unreadable"));
});

Deno.test("fleet: a failed self-test means the hook is not ready; an older report's is not run", () => {
  const failed = host("hv2");
  failed.hook.selfTest!.points.before_nic_hotplug = "fail";
  failed.summary.fail = 1;
  const older = host("hv3");
  delete older.hook.selfTest;
  const skipped = host("hv4");
  skipped.hook.selfTest = { ran: false, points: {}, reason: "skipped (--no-self-test)" };
  const fleet = compareFleet([host("hv1"), failed, older, skipped]);
  assert.equal(fleet.agree, false);
  assert.deepEqual(fleet.hostProblems, [
    "hv2: the installed hook failed its self-test at before_nic_hotplug: run 'deno task doctor' " +
    "there for the reason and the fix",
    "hv2: doctor found 1 failure: run 'deno task doctor' there for the fixes",
  ]);
  const text = renderFleet(fleet);
  assert.match(text, /^network-nat fleet: 4 hosts DIFFER\n/);
  assert.match(text, /^ {2}self-test +pass +FAIL +not run +not run$/m);
  // Not run is shown, and no problem of its own: the hosts agree without it.
  assert.equal(compareFleet([host("hv1"), older, skipped]).agree, true);
});

Deno.test("fleet: the table fits 80 columns, in blocks of hosts when there are many", () => {
  const names = Array.from({ length: 12 }, (_, i) => `hypervisor-${i + 1}.example.org`);
  const fleet = compareFleet(
    names.map((name, i) =>
      host(name, i === 7 ? onNetwork("ovs-net", (n) => ({ ...n, active: false })) : undefined)
    ),
  );
  const text = renderFleet(fleet);
  for (const line of text.split("\n")) assert.ok(line.length <= 80, `too long: ${line}`);
  const headers = text.split("\n").filter((line) => /^\s+hypervisor-/.test(line));
  assert.ok(headers.length > 1, text);
  assert.equal(headers.join(" ").match(/hypervisor-/g)!.length, 12);
  assert.match(text, /^ {2}ovs-net is inactive on hypervisor-8\.example\.org: virsh net-start/m);
});

Deno.test("fleet reads doctor reports and names the file of one it cannot read", () => {
  const current = JSON.parse(renderJson([], networks(), [], {
    host: "hv1",
    libvirt: { uri: "qemu:///system", user: "vdsm" },
    hook: host("hv1").hook,
  }));
  assert.equal(parseReport(JSON.stringify(current), "hv1.json").host, "hv1");
  const refusals: [string, RegExp][] = [
    ["{", /^hv1\.json: not JSON \(.*\): give the output of 'deno task doctor --json'$/],
    ["[]", /^hv1\.json: not a doctor report \(no findings, networks and hookPoints\)/],
    ['{"engine": true}', /^hv1\.json: not a doctor report/],
    [
      JSON.stringify({ ...current, format: undefined, host: undefined }),
      /^hv1\.json: a doctor report without a format version, from an older network-nat/,
    ],
    [
      JSON.stringify({ ...current, format: 2 }),
      /^hv1\.json: doctor report format 2, but this fleet reads format 1: run doctor and fleet /,
    ],
    [JSON.stringify({ ...current, host: "" }), /\(no host name\)/],
    [
      JSON.stringify({ ...current, networks: [{ ...current.networks[0], active: "yes" }] }),
      /^hv1\.json: not a doctor report of format 1 \(networks\[0\] is not a network\)/,
    ],
    [
      JSON.stringify({
        ...current,
        networks: [{ ...current.networks[0], portgroups: [{ name: "x", isDefault: false }] }],
      }),
      /\(networks\[0\]\.portgroups\[0\] is not a portgroup\)/,
    ],
    [JSON.stringify({ ...current, hook: undefined }), /\(no hook state\)/],
    [
      JSON.stringify({ ...current, hook: { ...current.hook, selfTest: { ran: "yes" } } }),
      /\(hook\.selfTest is not a self-test\)/,
    ],
  ];
  for (const [text, pattern] of refusals) {
    assert.throws(() => parseReport(text, "hv1.json"), (error: Error) => {
      assert.equal(error.name, "ReportError");
      assert.match(error.message, pattern);
      return true;
    });
  }
  const twice = parseReport(JSON.stringify(current), "again.json");
  assert.throws(
    () => compareFleet([parseReport(JSON.stringify(current), "hv1.json"), twice]),
    /^ReportError: again\.json: host hv1 is also the host of hv1\.json: give one report per host/,
  );
});
