/**
 * A stable Open vSwitch interface id for a vNIC.
 *
 * libvirt can live-update an interface on an Open vSwitch network only when the
 * new definition carries the running port's interfaceid; left to itself it
 * invents a new one each time. So every hook run for the same vNIC, on any host,
 * must produce the same id.
 *
 * @module
 */

import type { Vnic } from "./interface.ts";

// Name-based UUIDs of MAC addresses live in this namespace (a random UUID of this project's).
const MAC_NAMESPACE = "d07af976-54b6-454d-9b38-409907c27a4f";

/**
 * Returns the vNIC's stable interface id: the oVirt device id from its
 * `ua-UUID` alias, or else a name-based (version 5) UUID of its MAC address, or
 * `undefined` when it has neither.
 *
 * @example
 * ```ts
 * import { portId } from "./port_id.ts";
 * import { readInterface } from "./interface.ts";
 * const vnic = readInterface(
 *   '<interface type="bridge"><source bridge="m"/>' +
 *     '<alias name="ua-11111111-1111-4111-8111-111111111111"/></interface>',
 * );
 * await portId(vnic); // "11111111-1111-4111-8111-111111111111"
 * ```
 */
export async function portId(vnic: Pick<Vnic, "deviceId" | "mac">): Promise<string | undefined> {
  if (vnic.deviceId !== undefined) return vnic.deviceId;
  if (vnic.mac === undefined) return undefined;
  return await uuidV5(MAC_NAMESPACE, vnic.mac);
}

// The RFC 9562 version 5 (SHA-1, name-based) UUID of `name` in `namespace`. Its appendix A.4
// example, "www.example.com" in the DNS namespace, gives 2ed6657d-e927-568b-95e1-2665a8aea6a2.
async function uuidV5(namespace: string, name: string): Promise<string> {
  const hex = namespace.replaceAll("-", "");
  const bytes = new Uint8Array([
    ...hex.match(/../g)!.map((pair) => parseInt(pair, 16)),
    ...new TextEncoder().encode(name),
  ]);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)).slice(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const out = Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${out.slice(0, 8)}-${out.slice(8, 12)}-${out.slice(12, 16)}-${out.slice(16, 20)}-${
    out.slice(20)
  }`;
}
