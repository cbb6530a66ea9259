/**
 * The hook as a pure function: from the hook point, the environment VDSM set
 * and the device XML, to the XML to write back (or none) and a log line.
 *
 * @module
 */

import { readInterface, rewriteInterface, type Vnic } from "./interface.ts";
import {
  describeVlan,
  hasOpenvswitchPort,
  type Network,
  type Placement,
  placeOnNetwork,
  vlanOf,
} from "./network.ts";
import { portId } from "./port_id.ts";
import { describeValue, formatTarget, parseTarget, PROPERTY, type Target } from "./property.ts";
import { LibvirtUnavailable, Refusal } from "./refusal.ts";
import { attribute } from "./xml.ts";

/** The VDSM hook points this hook serves. */
export const HOOK_POINTS = [
  "before_device_create",
  "before_nic_hotplug",
  "before_update_device",
  "before_device_migrate_destination",
] as const;

/** One of {@linkcode HOOK_POINTS}. */
export type HookPoint = typeof HOOK_POINTS[number];

/** What a hook run starts from. */
export interface HookRequest {
  /** The hook point, from the hook's own path; `undefined` when run by hand. */
  point?: HookPoint;
  /** The value of `extnet_pg`, if VDSM set it. */
  property?: string;
  /** The value of `provider_type`, set by VDSM for vNICs on external-provider networks. */
  providerType?: string;
  /** The device XML from the file named by `_hook_domxml`. */
  xml: string;
  /**
   * Looks a libvirt network up; without it the hook does not check the target network. The
   * hook aborts `signal` when it no longer needs the answer.
   */
  lookupNetwork?: (name: string, signal: AbortSignal) => Promise<Network>;
}

/** What a hook run decided. */
export interface HookResult {
  /** The XML to write back; absent when the file must stay as it is. */
  xml?: string;
  /** One line for VDSM's log, or absent when there is nothing to say. */
  message?: string;
}

/**
 * Returns the hook point named by the directory a hook script is in, as in
 * `/usr/libexec/vdsm/hooks/before_nic_hotplug/50_network_nat`.
 *
 * @example
 * ```ts
 * import { hookPointOf } from "./hook.ts";
 * hookPointOf("/usr/libexec/vdsm/hooks/before_nic_hotplug/50_network_nat"); // "before_nic_hotplug"
 * hookPointOf("/opt/network-nat/main.ts"); // undefined
 * ```
 */
export function hookPointOf(scriptPath: string): HookPoint | undefined {
  const directory = scriptPath.split("/").at(-2);
  return HOOK_POINTS.find((point) => point === directory);
}

/**
 * Parses the `extnet_pg` value, refusing anything that is not
 * `NETWORK[:PORTGROUP]`.
 *
 * @example
 * ```ts
 * import { targetOf } from "./hook.ts";
 * targetOf("ovs-net:vlan-20"); // { network: "ovs-net", portgroup: "vlan-20" }
 * ```
 */
export function targetOf(property: string): Target {
  const target = parseTarget(property);
  if (target) return target;
  throw new Refusal(
    `${PROPERTY}=${describeValue(property)} is not NETWORK or NETWORK:PORTGROUP ` +
      "(each 1-64 characters of A-Z a-z 0-9 _ . -); fix the vNIC profile's custom property",
  );
}

/**
 * Runs the hook: redirects the vNIC in `request.xml` to the network and
 * portgroup that `extnet_pg` names, or leaves it alone when the property is
 * absent or the vNIC has no network. Throws {@linkcode Refusal} when the vNIC
 * cannot be put where it asks to go.
 *
 * At `before_device_migrate_destination` VDSM ignores the hook's output, so
 * the hook only checks that the target network and portgroup exist here.
 *
 * @example
 * ```ts
 * import { runHook } from "./hook.ts";
 * const result = await runHook({
 *   point: "before_device_create",
 *   property: "default",
 *   xml: '<interface type="bridge"><source bridge="ovirtmgmt"/></interface>',
 * });
 * result.xml; // '<interface type="network"><source network="default"/></interface>'
 * ```
 */
export async function runHook(request: HookRequest): Promise<HookResult> {
  if (request.property === undefined) return {};
  const target = targetOf(request.property);
  // libvirt is asked while the XML is parsed (virsh runs beside this process); when the vNIC
  // turns out not to need the answer, virsh is stopped.
  const cancel = new AbortController();
  const lookup = request.lookupNetwork?.(target.network, cancel.signal);
  lookup?.catch(() => {}); // awaited in redirect, unless the answer is not needed
  try {
    return await redirect(request, target, lookup);
  } finally {
    cancel.abort();
  }
}

async function redirect(
  request: HookRequest,
  target: Target,
  lookup: Promise<Network> | undefined,
): Promise<HookResult> {
  const vnic = readInterface(request.xml);
  if (vnic.unplugged) {
    return { message: `${vnic.label} has no network (unplugged); left as it is` };
  }
  if (request.providerType !== undefined) {
    throw new Refusal(
      `${vnic.label} is on an external-provider network (provider_type=` +
        `${describeValue(request.providerType)}, e.g. OVN), which ${PROPERTY} cannot redirect; ` +
        `remove ${PROPERTY} from its vNIC profile or use a profile on an oVirt network`,
    );
  }
  let network: Network | undefined;
  let unchecked: string | undefined;
  try {
    network = await lookup;
  } catch (error) {
    // At a live update VDSM answers any failure by handing libvirt the un-hooked XML, which
    // moves the tap onto the oVirt bridge of a Linux-bridge network: when libvirt cannot be
    // asked, the plain rewrite is the safer answer (Open vSwitch refuses it without a port id).
    if (!(request.point === "before_update_device" && error instanceof LibvirtUnavailable)) {
      throw error;
    }
    unchecked = error.message;
  }
  const placement = network && placeOnNetwork(network, target);
  const where = `network ${formatTarget(target)}` +
    (network && placement ? ` (${network.kind}${vlanNote(placement)})` : "") +
    (unchecked ? ` (not checked: ${unchecked})` : "");
  if (request.point === "before_device_migrate_destination") {
    checkRunningOnTarget(vnic, target, network, placement);
    return { message: `${vnic.label}: ${where} is ready on this host` };
  }
  const xml = rewriteInterface(vnic, target, {
    portId: await portId(vnic),
    openvswitch: placement?.openvswitch ? { vlan: placement.vlan } : undefined,
  });
  return {
    xml: xml === request.xml ? undefined : xml,
    message: `${vnic.label} -> ${where}`,
  };
}

// At the migration destination the device XML is the source host's live XML, which the VM
// keeps: a vNIC that does not run on its target there (started before the hook was installed,
// or put back on the oVirt bridge by a failed update), or whose port would differ here (its
// interface VLAN beats this host's portgroup), would not be where extnet_pg says afterwards.
function checkRunningOnTarget(
  vnic: Vnic,
  target: Target,
  network: Network | undefined,
  placement: Placement | undefined,
): void {
  const refuse = (reason: string, fix: string): never => {
    throw new Refusal(`${vnic.label} ${reason}; ${fix}`);
  };
  const source = vnic.source;
  const liveNetwork = attribute(source, "network");
  const livePortgroup = attribute(source, "portgroup");
  // libvirt keeps the old portgroup in the live XML of a Linux-bridge or NAT network after a live
  // portgroup change, and such portgroups carry no VLAN: there the network is what counts.
  const portgroupMatters = placement?.openvswitch ?? true;
  if (
    liveNetwork !== target.network ||
    (portgroupMatters && livePortgroup !== target.portgroup)
  ) {
    const now = liveNetwork === undefined
      ? `bridge ${describeValue(attribute(source, "bridge") ?? "")}`
      : `network ${describeValue(liveNetwork)}` +
        (livePortgroup === undefined ? "" : ` portgroup ${describeValue(livePortgroup)}`);
    refuse(
      `runs on ${now} on the source host, not on network ${formatTarget(target)} as ` +
        "extnet_pg asks, and would stay there",
      "restart the VM, or unplug and plug the vNIC, so that the hook can redirect it",
    );
  }
  if (!network || !placement) return;
  const liveOpenvswitch = hasOpenvswitchPort(vnic.root);
  const sameEverywhere = `define network '${target.network}' the same on every host`;
  if (liveOpenvswitch !== placement.openvswitch) {
    refuse(
      `is on ${liveOpenvswitch ? "an Open vSwitch" : "a non-Open vSwitch"} port on the ` +
        `source host, but network '${target.network}' is ${network.kind} here`,
      sameEverywhere,
    );
  }
  let liveVlan;
  try {
    liveVlan = vlanOf(vnic.root.children.find((child) => child.name === "vlan"));
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return refuse(`has a <vlan> libvirt does not accept: ${error.message}`, sameEverywhere);
  }
  if (placement.openvswitch && describeVlan(liveVlan) !== describeVlan(placement.vlan)) {
    refuse(
      `has ${describeVlan(liveVlan)} on the source host, but ${formatTarget(target)} gives ` +
        `${describeVlan(placement.vlan)} here, and the VM would keep the source's`,
      sameEverywhere,
    );
  }
}

// An Open vSwitch port without a VLAN carries every VLAN: say so rather than leave it implied.
function vlanNote({ vlan, openvswitch }: Placement): string {
  if (vlan?.tags.length) return `, ${describeVlan(vlan)}`;
  return openvswitch ? ", no VLAN: the port carries every VLAN" : "";
}
