/**
 * Asking libvirt about a network, read-only, through one bounded `virsh` run.
 *
 * @module
 */

import { type Network, parseNetworkReport } from "../lib/network.ts";
import { Refusal } from "../lib/refusal.ts";

/** How long virsh may take before the hook gives up on it: VDSM waits for a hook forever. */
export const VIRSH_TIMEOUT_MS = 5000;

/**
 * The libvirt connection to use: `LIBVIRT_DEFAULT_URI` when set (libvirt's own
 * convention), else the system daemon, which a non-root user such as `vdsm`
 * must name explicitly.
 */
export function libvirtUri(): string {
  return Deno.env.get("LIBVIRT_DEFAULT_URI") || "qemu:///system";
}

/**
 * Looks the network `name` up with `virsh -r -c URI 'net-info NAME; net-dumpxml NAME'`.
 * Throws {@linkcode Refusal} with the reason when virsh is missing, not allowed,
 * too slow, or cannot find the network.
 *
 * @example
 * ```ts ignore
 * import { lookupNetwork } from "./virsh.ts";
 * const network = await lookupNetwork("ovs-net", "qemu:///system");
 * ```
 */
export async function lookupNetwork(
  name: string,
  uri: string,
  timeoutMs = VIRSH_TIMEOUT_MS,
): Promise<Network> {
  // The name is NETWORK from extnet_pg ([A-Za-z0-9_.-]); --network keeps a leading '-' a value.
  const commands = `net-info --network ${name}; net-dumpxml --network ${name}`;
  const signal = AbortSignal.timeout(timeoutMs);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("virsh", {
      args: ["-r", "-c", uri, commands],
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
  } catch (error) {
    throw new Refusal(`cannot check libvirt network '${name}': ${spawnFailure(error)}`);
  }
  if (signal.aborted) {
    throw new Refusal(
      `cannot check libvirt network '${name}': virsh did not answer within ` +
        `${timeoutMs / 1000} s (is libvirtd running?)`,
    );
  }
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    if (/Network not found/.test(stderr)) {
      throw new Refusal(
        `libvirt network '${name}' does not exist on this host (see 'virsh net-list --all'); ` +
          "define it on every host, or fix extnet_pg on the vNIC profile",
      );
    }
    const reason = stderr.split("\n").map((line) => line.replace(/^error:\s*/, "").trim())
      .filter((line) => line && !line.startsWith("failed to get network")).at(0);
    throw new Refusal(
      `cannot check libvirt network '${name}' at ${uri}: ${
        reason ?? `virsh exited ${output.code}`
      }`,
    );
  }
  return parseNetworkReport(new TextDecoder().decode(output.stdout));
}

function spawnFailure(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) {
    return "virsh is not installed (install libvirt-client)";
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return "the hook may not run virsh (start it with --allow-run=virsh)";
  }
  return String(error);
}
