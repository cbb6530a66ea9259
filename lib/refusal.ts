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
  /** Creates a refusal with a one-line `message`, cut to {@linkcode MAX_MESSAGE_LENGTH}. */
  constructor(message: string) {
    super(oneLine(message));
    this.name = "Refusal";
  }
}

/**
 * The longest message a hook line carries: the line goes to vdsm.log and to the
 * engine's events, whatever size the values it quotes have.
 *
 * @example
 * ```ts
 * import { MAX_MESSAGE_LENGTH, Refusal } from "./refusal.ts";
 * new Refusal("x".repeat(5_000_000)).message.length <= MAX_MESSAGE_LENGTH; // true
 * ```
 */
export const MAX_MESSAGE_LENGTH = 1000;

/**
 * Cuts a value that a message quotes to `limit` characters, marking the cut with `...`:
 * names that libvirt and VDSM write are short, hostile or broken ones may not be.
 *
 * @example
 * ```ts
 * import { clip } from "./refusal.ts";
 * clip("a".repeat(100)).length; // 67
 * clip("ovs-net"); // "ovs-net"
 * ```
 */
export function clip(value: string, limit = 64): string {
  return value.length > limit ? `${value.slice(0, limit)}...` : value;
}

// One printable ASCII line of at most MAX_MESSAGE_LENGTH characters.
function oneLine(text: string): string {
  const line = text.slice(0, MAX_MESSAGE_LENGTH + 1).replace(/[^\x20-\x7e]+/g, " ");
  return line.length > MAX_MESSAGE_LENGTH ? `${line.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : line;
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
 * libvirt answered that it has no network of that name: a definite answer,
 * which callers may word for their situation.
 *
 * @example
 * ```ts
 * import { NetworkNotFound, Refusal } from "./refusal.ts";
 * const error = new NetworkNotFound("gone", "libvirt network 'gone' does not exist on this host");
 * error instanceof Refusal; // true
 * error.network; // "gone"
 * ```
 */
export class NetworkNotFound extends Refusal {
  /** Creates the error for network `network`, with a one-line `message`. */
  constructor(readonly network: string, message: string) {
    super(message);
    this.name = "NetworkNotFound";
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
export function missingNetwork(name: string): NetworkNotFound {
  return new NetworkNotFound(
    name,
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
    : oneLine(`unexpected error, nothing was changed: ${String(error)}`);
  return `${HOOK_PREFIX} ${reason}`;
}
