/**
 * Asking libvirt about a network, read-only, through one bounded `virsh` run.
 *
 * @module
 */

import { type Network, parseNetworkReport } from "../lib/network.ts";
import { LibvirtUnavailable, missingNetwork } from "../lib/refusal.ts";

/** How long virsh may take before the hook gives up on it: VDSM waits for a hook forever. */
export const VIRSH_TIMEOUT_MS = 5000;

/**
 * The libvirt connection to use: `LIBVIRT_DEFAULT_URI` when set (libvirt's own
 * convention), else the system daemon, which a non-root user such as `vdsm`
 * must name explicitly.
 *
 * @example
 * ```ts ignore
 * import { libvirtUri } from "./virsh.ts";
 * libvirtUri(); // "qemu:///system" unless LIBVIRT_DEFAULT_URI is set
 * ```
 */
export function libvirtUri(): string {
  return Deno.env.get("LIBVIRT_DEFAULT_URI") || "qemu:///system";
}

/** What one virsh run printed. */
export interface VirshOutput {
  /** Whether virsh exited 0 (with several commands: whether the last one succeeded). */
  success: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs `virsh -r -c URI COMMANDS` (prefixed by `runAs`, e.g. a `setpriv`
 * command line) and returns what it printed. Gives up after
 * {@linkcode VIRSH_TIMEOUT_MS}, or when `cancel` is aborted: it stops virsh and
 * no longer waits, even for children that keep its output open. Throws
 * {@linkcode LibvirtUnavailable} when virsh cannot be run or answers too late.
 *
 * @example
 * ```ts ignore
 * import { runVirsh } from "./virsh.ts";
 * const { stdout } = await runVirsh("net-list --all --name", "qemu:///system");
 * ```
 */
export async function runVirsh(
  commands: string,
  uri: string,
  runAs: string[] = [],
  cancel?: AbortSignal,
): Promise<VirshOutput> {
  const [program, ...args] = [...runAs, "virsh", "-r", "-c", uri, commands];
  // AbortSignal.timeout rather than setTimeout: the first setTimeout costs the hook ~4 ms, and
  // spawn() ~2 ms more than output().
  const timeout = AbortSignal.timeout(VIRSH_TIMEOUT_MS);
  const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
  let running: Promise<Deno.CommandOutput>;
  try {
    running = new Deno.Command(program, {
      args,
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
  } catch (error) {
    throw new LibvirtUnavailable(spawnFailure(error, program));
  }
  // The signal stops virsh (SIGTERM), and waiting ends with it, even if virsh ignores the
  // signal or a child of its keeps the output open. A rejection must not go unhandled.
  let onAbort = () => {};
  const late = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  const settled = running.then((output) => ({ output }), (error: unknown) => ({ error }));
  const result = await Promise.race([settled, late]);
  signal.removeEventListener("abort", onAbort);
  if (result === undefined || signal.aborted) {
    throw new LibvirtUnavailable(
      timeout.aborted
        ? `virsh did not answer within ${VIRSH_TIMEOUT_MS / 1000} s (is libvirtd running?)`
        : "the answer was no longer needed",
    );
  }
  if ("error" in result) throw new LibvirtUnavailable(spawnFailure(result.error, program));
  const { output } = result;
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { success: output.success, stdout: text(output.stdout), stderr: text(output.stderr) };
}

/**
 * Looks the network `name` up with `virsh -r -c URI 'net-info NAME; net-dumpxml NAME'`;
 * aborting `cancel` stops virsh. Throws {@linkcode Refusal} when libvirt has no such
 * network, and {@linkcode LibvirtUnavailable} when libvirt cannot be asked.
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
  cancel?: AbortSignal,
): Promise<Network> {
  // The name is NETWORK from extnet_pg ([A-Za-z0-9_.-]); --network keeps a leading '-' a value.
  const commands = `net-info --network ${name}; net-dumpxml --network ${name}`;
  let output: VirshOutput;
  try {
    output = await runVirsh(commands, uri, [], cancel);
  } catch (error) {
    if (error instanceof LibvirtUnavailable) {
      throw new LibvirtUnavailable(`cannot check libvirt network '${name}': ${error.message}`);
    }
    throw error;
  }
  if (!output.success) {
    if (/Network not found/.test(output.stderr)) {
      throw missingNetwork(name);
    }
    throw new LibvirtUnavailable(
      `cannot check libvirt network '${name}' at ${uri}: ${virshError(output.stderr)}`,
    );
  }
  return parseNetworkReport(output.stdout);
}

/**
 * The reason in virsh's error output: its first `error:` line that is not the
 * generic "failed to get ..." one.
 *
 * @example
 * ```ts
 * import { virshError } from "./virsh.ts";
 * virshError("error: failed to connect to the hypervisor\nerror: Permission denied\n");
 * // "failed to connect to the hypervisor"
 * ```
 */
export function virshError(stderr: string): string {
  return stderr.split("\n").map((line) => line.replace(/^error:\s*/, "").trim())
    .filter((line) => line && !line.startsWith("failed to get ")).at(0) ?? "virsh failed";
}

function spawnFailure(error: unknown, program: string): string {
  if (error instanceof Deno.errors.NotFound) {
    return program === "virsh"
      ? "virsh is not installed (install libvirt-client)"
      : `${program} is not installed`;
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return `the hook may not run ${program} (start it with --allow-run=${program})`;
  }
  return String(error);
}
