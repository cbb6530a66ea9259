/**
 * Where a running vNIC is, read from libvirt's live XML of its `<interface>`,
 * and whether a libvirt network (this host's, or its current definition)
 * gives it the same port. Used at the migration destination, where the VM
 * keeps the placement it has on the source, and by the doctor.
 *
 * libvirt writes a running vNIC of a `type="network"` interface in its actual
 * form: `type="bridge"` for bridge-forward and Open vSwitch networks
 * (`type="network"` for NAT and routed ones), `<source network= portgroup=
 * portid= bridge=>`, and the `<vlan>` and `<virtualport>` it merged in.
 *
 * @module
 */

import { identify } from "./interface.ts";
import { describeVlan, hasOpenvswitchPort, type Network, type Vlan, vlanOf } from "./network.ts";
import { formatTarget, type Target } from "./property.ts";
import { attribute, type XmlElement } from "./xml.ts";

/** A running vNIC's placement, from its live XML. */
export interface LivePort {
  /** How messages name the vNIC: by MAC, else by alias. */
  label: string;
  /** The MAC address, lower-case, when it has a well-formed one. */
  mac?: string;
  /** The libvirt network it is on, when its `<source>` names one, and the portgroup. */
  target?: Target;
  /** What it is on otherwise: `bridge "ovirtmgmt"`, `no network (unplugged)`, ... */
  elsewhere?: string;
  /** Whether the port is an Open vSwitch port (a `<virtualport type="openvswitch">`). */
  openvswitch: boolean;
  /** The VLAN the port carries (the interface's live `<vlan>`). */
  vlan?: Vlan;
}

// VDSM's DUMMY_BRIDGE, and the empty name it writes for a vNIC with no network profile.
const UNPLUGGED_BRIDGES = new Set([";vdsmdummy;", ""]);

/**
 * Reads where the running vNIC of the live `<interface>` element `root` is.
 *
 * @example
 * ```ts
 * import { readLivePort } from "./live.ts";
 * import { parseXml } from "./xml.ts";
 * const port = readLivePort(parseXml(
 *   "<interface type='bridge'><mac address='56:6f:1a:2b:00:01'/>" +
 *     "<source network='ovs-net' portgroup='vlan-20' bridge='ovsbr0'/>" +
 *     "<vlan><tag id='20'/></vlan><virtualport type='openvswitch'/></interface>",
 * ).root);
 * port.target; // { network: "ovs-net", portgroup: "vlan-20" }
 * port.vlan; // { trunk: false, tags: [{ id: 20 }] }
 * ```
 */
export function readLivePort(root: XmlElement): LivePort {
  const { label, mac } = identify(root);
  const port = {
    label,
    mac,
    openvswitch: hasOpenvswitchPort(root),
    vlan: vlanOf(root.children.find((child) => child.name === "vlan")),
  };
  const sources = root.children.filter((child) => child.name === "source");
  const type = attribute(root, "type") ?? "";
  if (root.name !== "interface" || sources.length !== 1) {
    return { ...port, elsewhere: `no libvirt network (a <${root.name} type="${type}">)` };
  }
  const network = attribute(sources[0], "network");
  const portgroup = attribute(sources[0], "portgroup");
  if (network !== undefined) {
    return { ...port, target: portgroup === undefined ? { network } : { network, portgroup } };
  }
  const bridge = attribute(sources[0], "bridge");
  if (bridge === undefined) {
    return { ...port, elsewhere: `no libvirt network (an <interface type="${type}">)` };
  }
  return {
    ...port,
    elsewhere: UNPLUGGED_BRIDGES.has(bridge) ? "no network (unplugged)" : `bridge ${bridge}`,
  };
}

/**
 * Describes where a running vNIC is, as an admin reads it.
 *
 * @example
 * ```ts
 * import { describeLivePort } from "./live.ts";
 * describeLivePort({
 *   label: "vNIC 56:6f:1a:2b:00:01", target: { network: "ovs-net", portgroup: "vlan-20" },
 *   openvswitch: true, vlan: { trunk: false, tags: [{ id: 20 }] },
 * }); // "network ovs-net:vlan-20 (Open vSwitch port, VLAN 20)"
 * describeLivePort({ label: "vNIC", elsewhere: "bridge ovirtmgmt", openvswitch: false });
 * // "bridge ovirtmgmt"
 * ```
 */
export function describeLivePort(port: LivePort): string {
  if (!port.target) return port.elsewhere ?? "no libvirt network";
  return `network ${formatTarget(port.target)} (` +
    (port.openvswitch ? `Open vSwitch port, ${describeVlan(port.vlan)})` : "not Open vSwitch)");
}

/**
 * Says what `network` would give the vNIC on `port` differently from the port
 * it has: an inactive network, a missing portgroup, another kind of port (Open
 * vSwitch or not), or another VLAN than the one the port carries. Returns
 * `undefined` when the network gives it the same port. `network` must be the
 * one the port's target names.
 *
 * @example
 * ```ts
 * import { portMismatch } from "./live.ts";
 * const network = {
 *   name: "ovs-net", active: true, autostart: true, kind: "Open vSwitch" as const,
 *   openvswitch: true, portgroups: [
 *     { name: "vlan-20", isDefault: false, openvswitch: false, vlan: { trunk: false, tags: [{ id: 30 }] } },
 *   ],
 * };
 * portMismatch({
 *   label: "vNIC", target: { network: "ovs-net", portgroup: "vlan-20" }, openvswitch: true,
 *   vlan: { trunk: false, tags: [{ id: 20 }] },
 * }, network);
 * // "portgroup 'vlan-20' of network 'ovs-net' gives VLAN 30, the port carries VLAN 20"
 * ```
 */
export function portMismatch(port: LivePort, network: Network): string | undefined {
  const name = `network '${network.name}'`;
  if (!network.active) return `${name} is not active`;
  const wanted = port.target?.portgroup;
  const portgroup = wanted === undefined
    ? network.portgroups.find((p) => p.isDefault)
    : network.portgroups.find((p) => p.name === wanted);
  if (wanted !== undefined && !portgroup) {
    const known = network.portgroups.map((p) => p.name).join(", ") || "none";
    return `${name} has no portgroup '${wanted}' (it has: ${known})`;
  }
  const openvswitch = network.openvswitch || (portgroup?.openvswitch ?? false);
  if (openvswitch !== port.openvswitch) {
    return `${name} is ${network.kind}, ` +
      `the port is ${port.openvswitch ? "" : "not "}an Open vSwitch port`;
  }
  // An interface <vlan> overrides the portgroup's in libvirt, so the port keeps the one it carries.
  const vlan = portgroup?.vlan ?? network.vlan;
  if (describeVlan(vlan) !== describeVlan(port.vlan)) {
    const where = portgroup ? `portgroup '${portgroup.name}' of ${name}` : name;
    return `${where} gives ${describeVlan(vlan)}, the port carries ${describeVlan(port.vlan)}`;
  }
  return undefined;
}

/**
 * Whether a vNIC running on `port` is on `target`. Portgroups count only on
 * Open vSwitch, where they carry the VLAN: libvirt keeps the old portgroup in
 * the live XML of a Linux-bridge or NAT vNIC after a live portgroup change.
 *
 * @example
 * ```ts
 * import { runsOn } from "./live.ts";
 * const port = { label: "vNIC", target: { network: "br-net", portgroup: "vlan-20" }, openvswitch: false };
 * runsOn(port, { network: "br-net" }); // true
 * runsOn(port, { network: "ovs-net" }); // false
 * ```
 */
export function runsOn(port: LivePort, target: Target): boolean {
  return port.target?.network === target.network &&
    (!port.openvswitch || port.target.portgroup === target.portgroup);
}
