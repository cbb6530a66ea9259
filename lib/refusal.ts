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
 * throw new Refusal("libvirt network 'ovs-net' is not active; start it with virsh net-start");
 * ```
 */
export class Refusal extends Error {
  /** Creates a refusal with a one-line `message`. */
  constructor(message: string) {
    super(message.replace(/[^\x20-\x7e]+/g, " "));
    this.name = "Refusal";
  }
}
