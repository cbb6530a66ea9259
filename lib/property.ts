/**
 * The `extnet_pg` custom device property: which libvirt network, and which
 * portgroup in it, a vNIC is redirected to.
 *
 * @module
 */

/** The custom device property that asks for a redirect. */
export const PROPERTY = "extnet_pg";

/**
 * The engine-side validation regex for {@linkcode PROPERTY}; the hook applies the same rule:
 * `NETWORK` or `NETWORK:PORTGROUP`, each 1 to 64 characters out of letters, digits, `_`, `.`
 * and `-`. Valid for `java.util.regex` (in a character class `.` is literal and a trailing `-`
 * is literal) and for JavaScript; it holds no `;` and balanced braces, so engine-config's
 * `CustomDeviceProperties` syntax can carry it.
 */
export const PROPERTY_REGEX = "^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$";

/** Where a vNIC is to be redirected: a libvirt network, and optionally one of its portgroups. */
export interface Target {
  /** The libvirt network name. */
  network: string;
  /** The portgroup name, when the property names one. */
  portgroup?: string;
}

const VALUE = new RegExp(PROPERTY_REGEX);

/**
 * Parses the value of `extnet_pg`: `NETWORK` or `NETWORK:PORTGROUP`, each 1 to 64
 * characters of `A-Z a-z 0-9 _ . -`.
 *
 * Returns `undefined` for anything else; {@linkcode describeValue} renders such a
 * value safely for an error message.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./property.ts";
 * parseTarget("ovs-net:vlan-20"); // { network: "ovs-net", portgroup: "vlan-20" }
 * parseTarget("default"); // { network: "default" }
 * parseTarget("ovs-net:"); // undefined
 * ```
 */
export function parseTarget(value: string): Target | undefined {
  if (!VALUE.test(value)) return undefined;
  const [network, portgroup] = value.split(":");
  return portgroup === undefined ? { network } : { network, portgroup };
}

/**
 * Renders `target` the way the admin writes it in the property.
 *
 * @example
 * ```ts
 * import { formatTarget } from "./property.ts";
 * formatTarget({ network: "ovs-net", portgroup: "vlan-20" }); // "ovs-net:vlan-20"
 * ```
 */
export function formatTarget(target: Target): string {
  return target.portgroup === undefined ? target.network : `${target.network}:${target.portgroup}`;
}

/**
 * Quotes an arbitrary value for a one-line ASCII message: non-printable and
 * non-ASCII characters are escaped, and long values are cut.
 *
 * @example
 * ```ts
 * import { describeValue } from "./property.ts";
 * describeValue("a b\n"); // '"a b\\n"'
 * ```
 */
export function describeValue(value: string, limit = 80): string {
  const cut = value.length > limit ? value.slice(0, limit) : value;
  const quoted = JSON.stringify(cut).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return value.length > limit ? `${quoted}... (${value.length} characters)` : quoted;
}
