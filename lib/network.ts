/**
 * What the hook needs to know about a libvirt network: whether it is active,
 * what backs it, its portgroups and their VLANs. Read from the output of
 * `virsh net-info NAME; net-dumpxml NAME`.
 *
 * @module
 */

import type { Target } from "./property.ts";
import { clip, LibvirtUnavailable, Refusal } from "./refusal.ts";
import { attribute, parseXml, textOf, type XmlElement } from "./xml.ts";

/** A VLAN setting of a libvirt network or portgroup (`<vlan>`). */
export interface Vlan {
  /** Whether the port is a trunk (`trunk="yes"`). */
  trunk: boolean;
  /** The tags, in order. */
  tags: { id: number; nativeMode?: string }[];
}

/** A `<portgroup>` of a libvirt network. */
export interface Portgroup {
  /** The portgroup's name. */
  name: string;
  /** Whether libvirt applies it to interfaces that name no portgroup. */
  isDefault: boolean;
  /** Whether it sets `<virtualport type="openvswitch">`. */
  openvswitch: boolean;
  /** Its VLAN, if it sets one. */
  vlan?: Vlan;
}

/** What backs a libvirt network, as an admin would name it. */
export type NetworkKind =
  | "Open vSwitch"
  | "Linux bridge"
  | "NAT"
  | "routed"
  | "isolated"
  | "open"
  | "macvtap"
  | "SR-IOV pool";

/** A libvirt network as `virsh net-info` and `net-dumpxml` describe it. */
export interface Network {
  /** The network's name. */
  name: string;
  /** Whether the network is running (`Active: yes`). */
  active: boolean;
  /** Whether libvirt starts it at boot (`Autostart: yes`). */
  autostart: boolean;
  /** What backs the network. */
  kind: NetworkKind;
  /** Whether `<virtualport type="openvswitch">` is set at network level. */
  openvswitch: boolean;
  /** The network-level VLAN, if any. */
  vlan?: Vlan;
  /** The portgroups in definition order. */
  portgroups: Portgroup[];
}

/** Where a vNIC lands on a network: what the hook has to add to its interface. */
export interface Placement {
  /** Whether the port is an Open vSwitch port (network- or portgroup-level virtualport). */
  openvswitch: boolean;
  /** The VLAN libvirt would give the port (portgroup's, else the network's). */
  vlan?: Vlan;
  /** The portgroup that applies, named or default. */
  portgroup?: Portgroup;
}

/**
 * Parses the output of `virsh net-info NAME; net-dumpxml NAME`: the `Key: value`
 * lines of net-info, then the network's XML. Throws {@linkcode LibvirtUnavailable}
 * when the output is not of that form, or describes values libvirt never writes.
 *
 * @example
 * ```ts
 * import { parseNetworkReport } from "./network.ts";
 * const network = parseNetworkReport(
 *   "Name: default\nActive: yes\nAutostart: yes\n\n" +
 *     "<network><name>default</name><forward mode='nat'/></network>\n",
 * );
 * network.kind; // "NAT"
 * ```
 */
export function parseNetworkReport(output: string): Network {
  const xmlStart = output.indexOf("<network");
  if (xmlStart < 0) {
    throw new LibvirtUnavailable("virsh printed no network XML; cannot check the network");
  }
  const info = new Map<string, string>();
  // "Key: value" lines, split without a regular expression: a line can be anything.
  for (const line of output.slice(0, xmlStart).split("\n")) {
    const colon = line.indexOf(":");
    const key = line.slice(0, colon);
    if (colon > 0 && /^[A-Za-z ]+$/.test(key)) info.set(key, line.slice(colon + 1).trim());
  }
  return parseNetwork({
    name: info.get("Name"),
    active: info.get("Active") === "yes",
    autostart: info.get("Autostart") === "yes",
  }, output.slice(xmlStart).trim());
}

/**
 * Builds a network from its state and its XML as libvirt gives them (`source`
 * names who gave them, in refusals). Throws {@linkcode LibvirtUnavailable} when the
 * XML is not that network's, or describes values libvirt never writes.
 *
 * @example
 * ```ts
 * import { parseNetwork } from "./network.ts";
 * const network = parseNetwork(
 *   { name: "default", active: true, autostart: false },
 *   "<network><name>default</name><forward mode='nat'/></network>",
 *   "libvirt",
 * );
 * network.kind; // "NAT"
 * ```
 */
export function parseNetwork(
  state: { name?: string; active: boolean; autostart: boolean },
  xml: string,
  source = "virsh",
): Network {
  // An answer that is not of this form means that libvirt could not really be asked.
  const garbage = (reason: string): never => {
    throw new LibvirtUnavailable(`${source} printed ${reason}; cannot check the network`);
  };
  let root: XmlElement;
  try {
    root = parseXml(xml).root;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return garbage(`network XML that is not well-formed: ${error.message}`);
  }
  const child = (element: XmlElement, name: string) =>
    element.children.find((c) => c.name === name);
  const { name } = state;
  if (name === undefined) garbage("no network name");
  const named = child(root, "name");
  if (!named || textOf(xml, named) !== name) {
    garbage(`another network's XML than '${clip(name!)}'s`);
  }
  const vlan = (element: XmlElement | undefined, where: string) => {
    try {
      return vlanOf(element);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return garbage(`network '${clip(name!)}' with ${where}${error.message}`);
    }
  };
  const portgroups = root.children.filter((c) => c.name === "portgroup").map((portgroup) => {
    const group = attribute(portgroup, "name") ?? "";
    return {
      name: group,
      isDefault: attribute(portgroup, "default") === "yes",
      openvswitch: hasOpenvswitchPort(portgroup),
      vlan: vlan(child(portgroup, "vlan"), `portgroup '${clip(group)}': `),
    };
  });
  return {
    name: name!,
    active: state.active,
    autostart: state.autostart,
    kind: networkKind(root, hasOpenvswitchPort(root) || portgroups.some((p) => p.openvswitch)),
    openvswitch: hasOpenvswitchPort(root),
    vlan: vlan(child(root, "vlan"), ""),
    portgroups,
  };
}

/**
 * Whether `element` (a network, portgroup or interface) has a
 * `<virtualport type="openvswitch">` child.
 *
 * @example
 * ```ts
 * import { hasOpenvswitchPort } from "./network.ts";
 * import { parseXml } from "./xml.ts";
 * hasOpenvswitchPort(parseXml("<portgroup><virtualport type='openvswitch'/></portgroup>").root); // true
 * ```
 */
export function hasOpenvswitchPort(element: XmlElement): boolean {
  return element.children.some((child) =>
    child.name === "virtualport" && attribute(child, "type") === "openvswitch"
  );
}

/**
 * Reads a `<vlan>` element, of a network, a portgroup or an interface. Throws
 * {@linkcode Refusal} for values libvirt would not accept: a tag id that is not
 * an integer 0-4095, `trunk` other than yes/no, `nativeMode` other than
 * tagged/untagged.
 *
 * @example
 * ```ts
 * import { vlanOf } from "./network.ts";
 * import { parseXml } from "./xml.ts";
 * vlanOf(parseXml("<vlan><tag id='20'/></vlan>").root); // { trunk: false, tags: [{ id: 20 }] }
 * ```
 */
export function vlanOf(vlan: XmlElement | undefined): Vlan | undefined {
  if (!vlan) return undefined;
  const trunk = attribute(vlan, "trunk");
  if (trunk !== undefined && trunk !== "yes" && trunk !== "no") {
    throw new Refusal(`<vlan trunk="${clip(trunk)}">, expected yes or no`);
  }
  return {
    trunk: trunk === "yes",
    tags: vlan.children.filter((c) => c.name === "tag").map((tag) => {
      const nativeMode = attribute(tag, "nativeMode");
      const text = attribute(tag, "id") ?? "";
      const id = /^[0-9]{1,4}$/.test(text) ? Number(text) : NaN;
      if (!(id <= MAX_VLAN_ID)) {
        throw new Refusal(`<tag id="${clip(text)}">, expected a VLAN id 0-${MAX_VLAN_ID}`);
      }
      if (nativeMode !== undefined && nativeMode !== "tagged" && nativeMode !== "untagged") {
        throw new Refusal(
          `<tag nativeMode="${clip(nativeMode)}">, expected tagged or untagged`,
        );
      }
      return nativeMode === undefined ? { id } : { id, nativeMode };
    }),
  };
}

// 802.1Q's 12-bit VLAN id, as libvirt checks it.
const MAX_VLAN_ID = 4095;

function networkKind(root: XmlElement, openvswitch: boolean): NetworkKind {
  const forward = root.children.find((c) => c.name === "forward");
  const mode = forward ? attribute(forward, "mode") ?? "nat" : undefined;
  switch (mode) {
    case undefined:
      return "isolated";
    case "nat":
      return "NAT";
    case "route":
      return "routed";
    case "open":
      return "open";
    case "hostdev":
      return "SR-IOV pool";
    case "bridge":
      if (openvswitch) return "Open vSwitch";
      return root.children.some((c) => c.name === "bridge") ? "Linux bridge" : "macvtap";
    default:
      return "macvtap";
  }
}

/**
 * Checks that `target` can be reached on `network` and tells what the vNIC's
 * interface must carry there. Throws {@linkcode Refusal} when the network is not
 * active or the portgroup does not exist: libvirt would fail, or worse, silently
 * ignore an unknown portgroup and leave an Open vSwitch port untagged.
 *
 * @example
 * ```ts
 * import { placeOnNetwork } from "./network.ts";
 * const network = {
 *   name: "ovs-net", active: true, autostart: true, kind: "Open vSwitch" as const,
 *   openvswitch: true, portgroups: [
 *     { name: "vlan-20", isDefault: false, openvswitch: false, vlan: { trunk: false, tags: [{ id: 20 }] } },
 *   ],
 * };
 * placeOnNetwork(network, { network: "ovs-net", portgroup: "vlan-20" }).vlan; // { trunk: false, tags: [{ id: 20 }] }
 * ```
 */
export function placeOnNetwork(network: Network, target: Target): Placement {
  // virsh also finds a network by UUID, but an interface names its network by name.
  if (network.name !== target.network) {
    throw new Refusal(
      `libvirt network '${target.network}' does not exist on this host (virsh found ` +
        `'${network.name}' by that UUID); name the network in extnet_pg`,
    );
  }
  if (!network.active) {
    throw new Refusal(
      `libvirt network '${network.name}' is not active; start it with ` +
        `'virsh net-start ${network.name}' and make it start at boot with ` +
        `'virsh net-autostart ${network.name}'`,
    );
  }
  const portgroup = target.portgroup === undefined
    ? network.portgroups.find((p) => p.isDefault)
    : network.portgroups.find((p) => p.name === target.portgroup);
  if (target.portgroup !== undefined && !portgroup) {
    const names = network.portgroups.map((p) => clip(p.name));
    const known = names.length > 10
      ? `${names.slice(0, 10).join(", ")} and ${names.length - 10} more`
      : names.join(", ") || "none";
    throw new Refusal(
      `libvirt network '${network.name}' has no portgroup '${target.portgroup}' ` +
        `(it has: ${known}); fix extnet_pg on the vNIC profile or add the portgroup`,
    );
  }
  return {
    openvswitch: network.openvswitch || (portgroup?.openvswitch ?? false),
    vlan: portgroup?.vlan ?? network.vlan,
    portgroup,
  };
}

/**
 * Renders a VLAN the way an admin reads it, e.g. `VLAN 20` or `trunk 10,20 (native 20 untagged)`.
 *
 * @example
 * ```ts
 * import { describeVlan } from "./network.ts";
 * describeVlan({ trunk: false, tags: [{ id: 20 }] }); // "VLAN 20"
 * ```
 */
export function describeVlan(vlan: Vlan | undefined): string {
  if (!vlan || vlan.tags.length === 0) return "no VLAN";
  const ids = vlan.tags.map((tag) => tag.id).join(",");
  const native = vlan.tags.filter((tag) => tag.nativeMode).map((tag) =>
    `${tag.id} ${tag.nativeMode}`
  );
  return `${vlan.trunk || vlan.tags.length > 1 ? "trunk" : "VLAN"} ${ids}` +
    (native.length ? ` (native ${native.join(", ")})` : "");
}
