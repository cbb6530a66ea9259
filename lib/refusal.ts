/**
 * The one error the hook reports to VDSM.
 *
 * @module
 */

/**
 * The hook will not carry out the redirect. `message` is one ASCII line that
 * says what was wrong and what to fix; VDSM shows it to the admin.
 *
 * @example
 * ```ts
 * import { Refusal } from "./refusal.ts";
 * const refusal = new Refusal("libvirt network 'ovs-net' is not active;\nstart it");
 * refusal.message; // "libvirt network 'ovs-net' is not active; start it"
 * ```
 */
export class Refusal extends Error {
  /** Creates a refusal with a one-line `message`. */
  constructor(message: string) {
    super(message.replace(/[^\x20-\x7e]+/g, " "));
    this.name = "Refusal";
  }
}

/**
 * libvirt could not be asked (virsh missing, not allowed, failing or too
 * slow), as opposed to a definite answer such as "no such network". The hook
 * refuses either way, except at a live update, where refusing would make VDSM
 * hand libvirt the un-hooked XML.
 *
 * @example
 * ```ts
 * import { LibvirtUnavailable, Refusal } from "./refusal.ts";
 * const error = new LibvirtUnavailable("virsh did not answer within 5 s");
 * error instanceof Refusal; // true
 * ```
 */
export class LibvirtUnavailable extends Refusal {
  /** Creates the error with a one-line `message`. */
  constructor(message: string) {
    super(message);
    this.name = "LibvirtUnavailable";
  }
}

/**
 * The refusal when libvirt has no network `name` (virsh's "Network not found",
 * libvirt's `VIR_ERR_NO_NETWORK`): a definite answer, not {@linkcode LibvirtUnavailable}.
 *
 * @example
 * ```ts
 * import { missingNetwork } from "./refusal.ts";
 * missingNetwork("x").message.startsWith("libvirt network 'x' does not exist"); // true
 * ```
 */
export function missingNetwork(name: string): Refusal {
  return new Refusal(
    `libvirt network '${name}' does not exist on this host (see 'virsh net-list --all'); ` +
      "define it on every host, or fix extnet_pg on the vNIC profile",
  );
}

/** What every line the hook writes to stderr starts with. */
export const HOOK_PREFIX = "network-nat:";

/**
 * Renders an error as the one stderr line the hook leaves for VDSM: a
 * {@linkcode Refusal}'s message as it is, anything else as an unexpected error.
 *
 * @example
 * ```ts
 * import { hookErrorLine, Refusal } from "./refusal.ts";
 * hookErrorLine(new Refusal("libvirt network 'x' is not active"));
 * // "network-nat: libvirt network 'x' is not active"
 * ```
 */
export function hookErrorLine(error: unknown): string {
  const reason = error instanceof Refusal
    ? error.message
    : `unexpected error, nothing was changed: ${String(error)}`;
  return `${HOOK_PREFIX} ${reason.replace(/\s*[^\x20-\x7e]+\s*/g, " ")}`;
}
