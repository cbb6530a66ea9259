/**
 * The hook as a pure function: from the hook point, the environment VDSM set
 * and the device XML, to the XML to write back (or none) and a log line.
 *
 * @module
 */

import { readInterface, rewriteInterface } from "./interface.ts";
import { describeLivePort, portMismatch, readLivePort, runsOn } from "./live.ts";
import { describeVlan, type Network, type Placement, placeOnNetwork } from "./network.ts";
import { portId } from "./port_id.ts";
import { describeValue, formatTarget, parseTarget, PROPERTY, type Target } from "./property.ts";
import { LibvirtUnavailable, NetworkNotFound, Refusal } from "./refusal.ts";
import { parseXml } from "./xml.ts";

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
 * At `before_device_migrate_destination` VDSM ignores the hook's output and the
 * VM keeps the placement it has on the source: the hook only checks that this
 * host gives the vNIC the same port, whatever `extnet_pg` says.
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
  if (request.point === "before_device_migrate_destination") return await checkMigration(request);
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
  const xml = rewriteInterface(vnic, target, {
    portId: await portId(vnic),
    openvswitch: placement?.openvswitch ? { vlan: placement.vlan } : undefined,
  });
  return {
    xml: xml === request.xml ? undefined : xml,
    message: `${vnic.label} -> ${where}`,
  };
}

// At the migration destination the device XML is the source host's live XML, and the VM keeps
// that placement whatever the hook says: libvirt migrates it as it is. So the hook refuses only
// when this host would give the port something else (its interface VLAN beats this host's
// portgroup), and only reports a vNIC that is not where extnet_pg says: VDSM's record of
// extnet_pg is one live update behind (updateDevice saves the device metadata before it sets
// dev.custom), and a VM started before the hook was installed still runs on its oVirt bridge.
// Refusing those would stall host maintenance: the engine retries the migration forever.
async function checkMigration(request: HookRequest): Promise<HookResult> {
  let root;
  try {
    root = parseXml(request.xml).root;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new Refusal(`the device XML is not well-formed XML: ${error.message}`);
  }
  const port = readLivePort(root);
  const property = request.property!;
  const wanted = parseTarget(property);
  const asks = wanted
    ? `extnet_pg says ${formatTarget(wanted)}`
    : `extnet_pg=${describeValue(property)} is not NETWORK[:PORTGROUP]`;
  const redirect = "to redirect it, restart the VM, or unplug and plug the vNIC";
  if (!port.target) {
    if (!port.elsewhere?.startsWith("bridge ")) {
      return { message: `${port.label} has ${describeLivePort(port)}; left as it is` };
    }
    return {
      message: `${port.label} runs on ${describeLivePort(port)} on the source host and keeps it ` +
        `here, though ${asks}; ${redirect}`,
    };
  }
  const { network: name } = port.target;
  const source = `${port.label} runs on ${describeLivePort(port)} on the source host`;
  const sameEverywhere = `define network '${name}' the same on every host`;
  let network: Network | undefined;
  try {
    network = await request.lookupNetwork?.(name, new AbortController().signal);
  } catch (error) {
    if (error instanceof NetworkNotFound) {
      throw new Refusal(`${source}, and this host has no network '${name}'; ${sameEverywhere}`);
    }
    if (error instanceof Refusal) {
      throw new Refusal(
        `${source}; cannot check that this host gives it the same port: ` +
          error.message,
      );
    }
    throw error;
  }
  let note = " (not checked: libvirt was not consulted)";
  if (network) {
    // virsh also finds a network by UUID; the live XML names it.
    if (network.name !== name) {
      throw new Refusal(`${source}, and this host has no network '${name}'; ${sameEverywhere}`);
    }
    const mismatch = portMismatch(port, network);
    if (mismatch) {
      throw new Refusal(
        `${source}, but here ${mismatch}; ` +
          (network.active
            ? sameEverywhere
            : `start it: virsh net-start ${name} && virsh net-autostart ${name}`),
      );
    }
    note = ` (${network.kind}${vlanNote(placeOnNetwork(network, port.target))})`;
  }
  if (wanted && runsOn(port, wanted)) {
    return {
      message: `${port.label}: network ${formatTarget(port.target)}${note} is ready on this host`,
    };
  }
  return {
    message: `${source} and keeps it here, though ${asks} (VDSM's record can lag one live ` +
      `update behind, or the profile changed since); ${redirect}`,
  };
}

// An Open vSwitch port without a VLAN carries every VLAN: say so rather than leave it implied.
function vlanNote({ vlan, openvswitch }: Placement): string {
  if (vlan?.tags.length) return `, ${describeVlan(vlan)}`;
  return openvswitch ? ", no VLAN: the port carries every VLAN" : "";
}
