/**
 * Reading the `<interface>` element VDSM hands a device hook, and rewriting it
 * in place onto a libvirt network.
 *
 * Only the `<interface>` start tag and the `<source>` start tag are edited (plus
 * the `<virtualport>` and `<vlan>` this hook adds for Open vSwitch targets);
 * every other byte stays as it was.
 *
 * @module
 */

import { describeValue, type Target } from "./property.ts";
import { clip, Refusal } from "./refusal.ts";
import type { Vlan } from "./network.ts";
import { attribute, parseXml, type XmlAttribute, type XmlElement } from "./xml.ts";

/** The vNIC in a hook's device XML, with the parts the rewrite needs. */
export interface Vnic {
  /** The whole text of the device XML. */
  text: string;
  /** The `<interface>` element. */
  root: XmlElement;
  /** Its one direct `<source>` child. */
  source: XmlElement;
  /** The MAC address, when the XML has a well-formed one. */
  mac?: string;
  /** The oVirt device id from an alias `ua-UUID`, lower-case. */
  deviceId?: string;
  /** How messages name this vNIC: by MAC, else by alias, else generically. */
  label: string;
  /** Whether the vNIC is on no network (`;vdsmdummy;` or an empty bridge name). */
  unplugged: boolean;
}

/** What the rewrite adds for a target network backed by Open vSwitch. */
export interface OpenvswitchPort {
  /** The VLAN the port must carry, when the portgroup or network has one. */
  vlan?: Vlan;
}

/** How {@linkcode rewriteInterface} should treat a vNIC beyond its target. */
export interface RewriteOptions {
  /** The vNIC's stable Open vSwitch interface id (see `portId.ts`). */
  portId?: string;
  /** Set when the target is an Open vSwitch network. */
  openvswitch?: OpenvswitchPort;
}

// VDSM's DUMMY_BRIDGE, and the empty name it writes for a vNIC with no network profile.
const UNPLUGGED_BRIDGES = new Set([";vdsmdummy;", ""]);
const MAC = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$/;
const DEVICE_ALIAS =
  /^ua-([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$/;
const REDIRECTABLE_TYPES = new Set(["bridge", "network"]);

/**
 * Parses the device XML of a hook and checks that it is one plain vNIC that can
 * be redirected: an `<interface type="bridge">` or `type="network"` with exactly
 * one `<source>`, no failover `<teaming>`. Throws {@linkcode Refusal} otherwise.
 *
 * @example
 * ```ts
 * import { readInterface } from "./interface.ts";
 * const vnic = readInterface('<interface type="bridge"><source bridge="ovirtmgmt"/></interface>');
 * vnic.unplugged; // false
 * ```
 */
export function readInterface(text: string): Vnic {
  let root: XmlElement;
  try {
    root = parseXml(text).root;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new Refusal(`the device XML is not well-formed XML: ${error.message}`);
  }
  if (root.name !== "interface") {
    throw new Refusal(
      `the device XML holds a <${clip(root.name)}> element, not one <interface>: ` +
        (root.name === "hostdev"
          ? "an SR-IOV passthrough vNIC cannot be redirected; remove extnet_pg from its vNIC profile"
          : "only a vNIC can be redirected; remove extnet_pg from this device"),
    );
  }
  const { mac, deviceId, label } = identify(root);
  const refuse = (reason: string): never => {
    throw new Refusal(`${label}: ${reason}`);
  };
  const type = attribute(root, "type");
  if (type === undefined || !REDIRECTABLE_TYPES.has(type)) {
    refuse(
      `an <interface type=${
        describeValue(type ?? "", 64)
      }> cannot be redirected (only bridge and network ` +
        `vNICs can); remove extnet_pg from its vNIC profile`,
    );
  }
  const sources = root.children.filter((child) => child.name === "source");
  if (sources.length !== 1) {
    refuse(
      `expected exactly one <source> in the <interface>, found ${sources.length}; ` +
        "this is not a vNIC VDSM wrote, refusing to guess",
    );
  }
  if (root.children.some((child) => child.name === "teaming")) {
    refuse(
      "a failover <teaming> vNIC cannot be redirected (its SR-IOV partner stays on the " +
        "oVirt network); remove extnet_pg or failover from its vNIC profile",
    );
  }
  const [source] = sources;
  const bridge = attribute(source, "bridge");
  const network = attribute(source, "network");
  if (bridge === undefined && network === undefined) {
    refuse("its <source> names neither a bridge nor a network; refusing to guess");
  }
  return {
    text,
    root,
    source,
    mac,
    deviceId,
    label,
    unplugged: network === undefined && UNPLUGGED_BRIDGES.has(bridge!),
  };
}

/**
 * The MAC address and oVirt device id of the vNIC whose device XML has `root`
 * as its element, lower-case, and how messages name it: by MAC, else by alias,
 * else generically.
 *
 * @example
 * ```ts
 * import { identify } from "./interface.ts";
 * import { parseXml } from "./xml.ts";
 * identify(parseXml("<interface><mac address='56:6F:1A:2B:00:01'/></interface>").root).label;
 * // "vNIC 56:6f:1a:2b:00:01"
 * ```
 */
export function identify(root: XmlElement): Pick<Vnic, "mac" | "deviceId" | "label"> {
  const valueOf = (child: string, name: string) => {
    const element = root.children.find((c) => c.name === child);
    return element && attribute(element, name);
  };
  const address = valueOf("mac", "address");
  const alias = valueOf("alias", "name");
  const mac = address !== undefined && MAC.test(address) ? address.toLowerCase() : undefined;
  const label = mac !== undefined
    ? `vNIC ${mac}`
    : alias !== undefined && /^[\w.:-]{1,80}$/.test(alias)
    ? `vNIC ${alias}`
    : "vNIC";
  return { mac, deviceId: DEVICE_ALIAS.exec(alias ?? "")?.[1].toLowerCase(), label };
}

/**
 * Returns the device XML with the vNIC moved onto `target`: the interface type
 * becomes `network`, the `<source>` names the network and portgroup and loses a
 * `bridge` or `portid`. For an Open vSwitch target it also carries the stable
 * `<virtualport>` and the portgroup's `<vlan>`; filter references and port
 * isolation, which Open vSwitch cannot apply, are refused.
 *
 * A `<virtualport>` or `<vlan>` that this hook did not write is refused. Running
 * the rewrite on its own output returns that output unchanged.
 *
 * @example
 * ```ts
 * import { readInterface, rewriteInterface } from "./interface.ts";
 * const vnic = readInterface("<interface type='bridge'><source bridge='ovirtmgmt'/></interface>");
 * rewriteInterface(vnic, { network: "default" });
 * // "<interface type='network'><source network='default'/></interface>"
 * ```
 */
export function rewriteInterface(
  vnic: Vnic,
  target: Target,
  options: RewriteOptions = {},
): string {
  const { root, source, text } = vnic;
  const refuse = (reason: string): never => {
    throw new Refusal(`${vnic.label}: ${reason}`);
  };
  const ours = ownElements(vnic, options.portId);
  if (ours === undefined) {
    return refuse(
      "it already carries a <virtualport> or <vlan> that network-nat did not write (oVirt's " +
        "Open vSwitch switch type, an external provider or another hook); an interface VLAN " +
        "would override the portgroup's, so remove extnet_pg or the other configuration",
    );
  }
  const { openvswitch } = options;
  if (openvswitch) {
    if (root.children.some((child) => child.name === "filterref")) {
      refuse(
        `libvirt cannot apply a network filter on Open vSwitch network '${target.network}'; ` +
          'set the vNIC profile\'s network filter to "No Network Filter"',
      );
    }
    if (
      root.children.some((child) => child.name === "port" && attribute(child, "isolated") === "yes")
    ) {
      refuse(
        `Open vSwitch network '${target.network}' cannot isolate ports; turn off port ` +
          "isolation on the oVirt network of this vNIC profile, or choose a Linux-bridge network",
      );
    }
    if (options.portId === undefined) {
      refuse(
        `it has neither an oVirt alias nor a MAC address to derive a stable Open vSwitch ` +
          `port id from; refusing to attach it to '${target.network}'`,
      );
    }
  }

  const edits: Edit[] = [];
  const type = root.attributes.find((a) => a.name === "type")!;
  if (type.value !== "network") edits.push(setValue(text, type, "network"));
  edits.push(...sourceEdits(text, source, target));
  for (const element of ours) edits.push(removal(text, root, element));
  if (openvswitch) {
    const quote = source.attributes[0]?.quote ?? '"';
    const indent = leadingSpace(text, root, source);
    const added = [
      openvswitch.vlan && renderVlan(openvswitch.vlan, quote),
      `<virtualport type=${quote}openvswitch${quote}><parameters interfaceid=${quote}` +
      `${options.portId}${quote}/></virtualport>`,
    ].filter((element) => element).map((element) => indent + element);
    edits.push({ start: source.end, end: source.end, text: added.join("") });
  }
  return applyEdits(text, edits);
}

// The <virtualport> and <vlan> children this hook wrote earlier, or undefined when any
// such child is foreign. Ours: one openvswitch virtualport whose only content is this vNIC's
// interfaceid, and at most one vlan beside it.
function ownElements(vnic: Vnic, portId: string | undefined): XmlElement[] | undefined {
  const virtualports = vnic.root.children.filter((child) => child.name === "virtualport");
  const vlans = vnic.root.children.filter((child) => child.name === "vlan");
  if (virtualports.length === 0 && vlans.length === 0) return [];
  if (virtualports.length !== 1 || vlans.length > 1 || portId === undefined) return undefined;
  const [virtualport] = virtualports;
  const parameters = virtualport.children;
  const own = attribute(virtualport, "type") === "openvswitch" &&
    virtualport.attributes.length === 1 &&
    parameters.length === 1 && parameters[0].name === "parameters" &&
    parameters[0].attributes.length === 1 &&
    attribute(parameters[0], "interfaceid")?.toLowerCase() === portId;
  return own ? [...vlans, virtualport] : undefined;
}

function renderVlan(vlan: Vlan, quote: string): string {
  const q = (value: string | number) => `${quote}${value}${quote}`;
  const tags = vlan.tags.map((tag) =>
    `<tag id=${q(tag.id)}${tag.nativeMode ? ` nativeMode=${q(tag.nativeMode)}` : ""}/>`
  );
  return `<vlan${vlan.trunk ? ` trunk=${q("yes")}` : ""}>${tags.join("")}</vlan>`;
}

// The edits to the <source> start tag: network and portgroup set, bridge and portid gone.
function sourceEdits(text: string, source: XmlElement, target: Target): Edit[] {
  const edits: Edit[] = [];
  const byName = new Map(source.attributes.map((a) => [a.name, a]));
  const network = byName.get("network");
  const bridge = byName.get("bridge");
  const portgroup = byName.get("portgroup");
  // The attribute that ends up holding the network: the existing one, or else the bridge slot.
  const slot = (network ?? bridge)!;
  if (network) {
    edits.push(setValue(text, network, target.network));
    if (bridge) edits.push(removal(text, source, bridge));
  } else {
    edits.push({ start: slot.start, end: slot.end, text: quoted("network", target.network, slot) });
  }
  if (target.portgroup !== undefined && !portgroup) {
    const added = " " + quoted("portgroup", target.portgroup, slot);
    edits.push({ start: slot.end, end: slot.end, text: added });
  }
  if (portgroup) {
    edits.push(
      target.portgroup === undefined
        ? removal(text, source, portgroup)
        : setValue(text, portgroup, target.portgroup),
    );
  }
  const portid = byName.get("portid");
  if (portid) edits.push(removal(text, source, portid));
  return edits;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function quoted(name: string, value: string, like: XmlAttribute): string {
  return `${name}=${like.quote}${value}${like.quote}`;
}

// Replaces the whole attribute when its value changes, keeping its name, spacing and quote.
function setValue(text: string, attr: XmlAttribute, value: string): Edit {
  const valueStart = text.lastIndexOf(attr.quote, attr.end - 2) + 1;
  return { start: valueStart, end: attr.end - 1, text: value };
}

// Removes an attribute, or a child element, together with the white space before it.
function removal(text: string, parent: XmlElement, item: XmlAttribute | XmlElement): Edit {
  return { start: item.start - leadingSpace(text, parent, item).length, end: item.end, text: "" };
}

// The white space just before an attribute or child element of `parent`.
function leadingSpace(text: string, parent: XmlElement, item: XmlAttribute | XmlElement): string {
  const floor = "attributes" in item ? parent.startTagEnd : parent.start + 1 + parent.name.length;
  let start = item.start;
  while (start > floor && " \t\r\n".includes(text[start - 1])) start--;
  return text.slice(start, item.start);
}

function applyEdits(text: string, edits: Edit[]): string {
  // Insertions sort before removals that start at the same place; nothing overlaps.
  const sorted = edits
    .filter((edit) => edit.start !== edit.end || edit.text !== "")
    .sort((a, b) => a.start - b.start || (a.end - a.start) - (b.end - b.start));
  let out = "";
  let at = 0;
  for (const edit of sorted) {
    out += text.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + text.slice(at);
}
