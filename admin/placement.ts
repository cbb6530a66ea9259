/**
 * Which running vNICs are not where their profile says, from the live domain
 * XML of a host's running VMs and its libvirt networks: the doctor's `vnic`
 * findings. Pure: the XML is read by `admin/host/domains.ts`.
 *
 * VDSM keeps each vNIC's custom properties in the domain's metadata
 * (`lib/vdsm/virt/metadata.py`, keys of `vmdevices/network.py`):
 *
 * ```xml
 * <metadata>
 *   <ovirt-vm:vm xmlns:ovirt-vm="http://ovirt.org/vm/1.0">
 *     <ovirt-vm:device mac_address="56:6f:1a:2b:00:01">
 *       <ovirt-vm:network>ovirtmgmt</ovirt-vm:network>
 *       <ovirt-vm:custom><ovirt-vm:extnet_pg>ovs-net:vlan-20</ovirt-vm:extnet_pg></ovirt-vm:custom>
 * ```
 *
 * That record is one live update behind a profile change (`Vm.updateDevice`
 * saves it inside `setLinkAndNetwork`'s `with` block, before `dev.custom` is
 * set), so the findings say what the record says and where the vNIC runs.
 *
 * @module
 */

import type { Finding } from "./doctor.ts";
import {
  describeLivePort,
  type LivePort,
  portMismatch,
  readLivePort,
  runsOn,
} from "../lib/live.ts";
import type { Network } from "../lib/network.ts";
import { describeValue, formatTarget, parseTarget, PROPERTY } from "../lib/property.ts";
import { parseXml, textOf, type XmlElement } from "../lib/xml.ts";

/** VDSM's namespace for its domain metadata (`xmlconstants.METADATA_VM_VDSM_URI`). */
export const OVIRT_VM_NS = "http://ovirt.org/vm/1.0";

/** A vNIC of a running VM whose VDSM record holds `extnet_pg`. */
export interface RunningVnic {
  /** The VM's name. */
  vm: string;
  /** The vNIC's MAC address, lower-case. */
  mac: string;
  /** `extnet_pg` as VDSM's record has it. */
  property: string;
  /** Where the vNIC runs. */
  port: LivePort;
}

/** The running VMs of a host, as the doctor read them. */
export interface RunningVms {
  /** How many running VMs were read. */
  count: number;
  /** Their vNICs with `extnet_pg`. */
  vnics: RunningVnic[];
  /** Why the VMs, or some of them, could not be read. */
  errors: string[];
}

// The namespace prefixes bound at `element`: its own xmlns:P declarations over its ancestors'.
function scope(element: XmlElement, inherited: Map<string, string>): Map<string, string> {
  const own = element.attributes.filter((a) => a.name.startsWith("xmlns:"));
  if (own.length === 0) return inherited;
  const bindings = new Map(inherited);
  for (const a of own) bindings.set(a.name.slice("xmlns:".length), a.value);
  return bindings;
}

// The children of `element` named `local` in VDSM's namespace, with their bindings.
function ovirtChildren(
  element: XmlElement,
  bindings: Map<string, string>,
  local: string,
): [XmlElement, Map<string, string>][] {
  return element.children.flatMap((child): [XmlElement, Map<string, string>][] => {
    const [prefix, name] = child.name.includes(":") ? child.name.split(":") : ["", child.name];
    const inScope = scope(child, bindings);
    const uri = prefix === "" ? undefined : inScope.get(prefix);
    return name === local && uri === OVIRT_VM_NS ? [[child, inScope]] : [];
  });
}

/**
 * Reads the vNICs with `extnet_pg` of one running VM from its live domain XML:
 * VDSM's record of each vNIC's custom properties, matched by MAC address to
 * the live `<interface>`. Throws `SyntaxError` when the XML is not well-formed.
 *
 * @example
 * ```ts
 * import { readRunningVnics } from "./placement.ts";
 * const [vnic] = readRunningVnics(
 *   "<domain><name>web1</name><metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>" +
 *     "<ovirt-vm:device mac_address='56:6f:1a:2b:00:01'><ovirt-vm:custom>" +
 *     "<ovirt-vm:extnet_pg>ovs-net:vlan-20</ovirt-vm:extnet_pg></ovirt-vm:custom></ovirt-vm:device>" +
 *     "</ovirt-vm:vm></metadata><devices><interface type='bridge'>" +
 *     "<mac address='56:6f:1a:2b:00:01'/><source bridge='ovirtmgmt'/></interface></devices></domain>",
 * );
 * vnic.property; // "ovs-net:vlan-20"
 * vnic.port.elsewhere; // "bridge ovirtmgmt"
 * ```
 */
export function readRunningVnics(xml: string): RunningVnic[] {
  const { root } = parseXml(xml);
  const child = (element: XmlElement | undefined, name: string) =>
    element?.children.find((c) => c.name === name);
  const nameElement = child(root, "name");
  const vm = nameElement ? textOf(xml, nameElement) : "(no name)";
  const ports = new Map<string, LivePort>();
  for (const device of child(root, "devices")?.children ?? []) {
    if (device.name !== "interface") continue;
    const port = readLivePort(device);
    if (port.mac) ports.set(port.mac, port);
  }
  const metadata = child(root, "metadata");
  if (!metadata) return [];
  const top = scope(metadata, scope(root, new Map()));
  const vnics: RunningVnic[] = [];
  for (const [vmElement, vmScope] of ovirtChildren(metadata, top, "vm")) {
    for (const [device, deviceScope] of ovirtChildren(vmElement, vmScope, "device")) {
      const mac = device.attributes.find((a) => a.name === "mac_address")?.value.toLowerCase();
      const port = mac === undefined ? undefined : ports.get(mac);
      if (!port) continue;
      for (const [custom, customScope] of ovirtChildren(device, deviceScope, "custom")) {
        for (const [value] of ovirtChildren(custom, customScope, PROPERTY)) {
          vnics.push({ vm, mac: mac!, property: textOf(xml, value), port });
        }
      }
    }
  }
  return vnics;
}

/** How a running vNIC compares with where its profile says it should be. */
export interface VnicVerdict {
  status: "ok" | "warn";
  /** What is wrong, when the status is warn. */
  problem?: string;
  /** What to do about it. */
  fix?: string;
}

const RESTART = "restart the VM, or unplug and plug the vNIC";

/**
 * Compares a running vNIC with its `extnet_pg` and with the current definition
 * of the network it runs on (`networks` as libvirt lists them now; `undefined`
 * when they could not be read, which skips that comparison).
 *
 * @example
 * ```ts
 * import { assessVnic } from "./placement.ts";
 * assessVnic({
 *   vm: "web1", mac: "56:6f:1a:2b:00:01", property: "ovs-net:vlan-20",
 *   port: { label: "vNIC 56:6f:1a:2b:00:01", elsewhere: "bridge ovirtmgmt", openvswitch: false },
 * }, []).problem;
 * // "runs on bridge ovirtmgmt, extnet_pg says ovs-net:vlan-20"
 * ```
 */
export function assessVnic(vnic: RunningVnic, networks: Network[] | undefined): VnicVerdict {
  const { port } = vnic;
  const target = parseTarget(vnic.property);
  const runs = `runs on ${describeLivePort(port)}`;
  if (!target) {
    return {
      status: "warn",
      problem: `${runs}, ${PROPERTY}=${describeValue(vnic.property)} is not NETWORK[:PORTGROUP]`,
      fix: `fix the vNIC profile's custom property, then ${RESTART}`,
    };
  }
  if (port.elsewhere === "no network (unplugged)") return { status: "ok" };
  if (!runsOn(port, target)) {
    return {
      status: "warn",
      problem: `${runs}, ${PROPERTY} says ${formatTarget(target)}`,
      fix: `${RESTART}, so that the hook redirects it (if the vNIC profile's ${PROPERTY} says ` +
        "otherwise now, VDSM's record is one live update behind: nothing to do)",
    };
  }
  const network = networks?.find((n) => n.name === port.target!.network);
  if (networks && !network) {
    return {
      status: "warn",
      problem: `${runs}, and network '${port.target!.network}' no longer exists`,
      fix: `define network '${port.target!.network}' again, or change the vNIC profile and ` +
        RESTART,
    };
  }
  const mismatch = network && portMismatch(port, network);
  if (mismatch) {
    return {
      status: "warn",
      problem: `${runs}, but now ${mismatch}`,
      fix: `${RESTART}, so that it gets the port network '${network.name}' defines now`,
    };
  }
  return { status: "ok" };
}

/**
 * The doctor's findings on the running VMs: one `warn` per vNIC that is not
 * where its profile says, or one `ok` line when every one is.
 *
 * @example
 * ```ts
 * import { vnicFindings } from "./placement.ts";
 * vnicFindings({ count: 3, vnics: [], errors: [] }, [])[0].message;
 * // "3 running VMs, 0 vNICs with extnet_pg: all where their profile says"
 * ```
 */
export function vnicFindings(vms: RunningVms, networks: Network[] | undefined): Finding[] {
  const findings: Finding[] = vms.errors.map((error) => ({
    check: "vms",
    status: "warn",
    message: `the running VMs were not all read: ${error}`,
    fix: "check read-only access to libvirt ('virsh -r list') as the hook's user",
  }));
  for (const vnic of vms.vnics) {
    const verdict = assessVnic(vnic, networks);
    if (verdict.status === "ok") continue;
    findings.push({
      check: "vnic",
      status: "warn",
      message: `VM ${vnic.vm}: ${vnic.port.label} ${verdict.problem}`,
      fix: verdict.fix,
    });
  }
  if (findings.length === 0) {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    findings.push({
      check: "vms",
      status: "ok",
      message: `${plural(vms.count, "running VM")}, ${plural(vms.vnics.length, "vNIC")} with ` +
        `${PROPERTY}: all where their profile says`,
    });
  }
  return findings;
}

/**
 * The running vNICs with `extnet_pg` for the doctor's `--json`: VM, MAC,
 * `extnet_pg`, where the vNIC runs, and the verdict.
 *
 * @example
 * ```ts
 * import { vnicReport } from "./placement.ts";
 * vnicReport({ count: 0, vnics: [], errors: [] }, []); // []
 * ```
 */
export function vnicReport(vms: RunningVms, networks: Network[] | undefined): object[] {
  return vms.vnics.map((vnic) => ({
    vm: vnic.vm,
    mac: vnic.mac,
    [PROPERTY]: vnic.property,
    runsOn: describeLivePort(vnic.port),
    network: vnic.port.target?.network ?? null,
    portgroup: vnic.port.target?.portgroup ?? null,
    ...assessVnic(vnic, networks),
  }));
}
