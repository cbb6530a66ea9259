/**
 * Asking libvirt about a network, read-only, through one bounded `virsh` run.
 *
 * @module
 */

import { type Network, parseNetworkReport } from "../lib/network.ts";
import { clip, LibvirtUnavailable, missingNetwork } from "../lib/refusal.ts";

/**
 * How long libvirt's answer is awaited, counted from virsh's start: VDSM waits
 * for a hook forever, so the hook must give up on a libvirt that does not
 * answer; but when many VMs start at once, a loaded host can take seconds to
 * run virsh, and a busy host must not make a VM start fail.
 */
export const VIRSH_TIMEOUT_MS = 30_000;

/** The most virsh may print: a network's XML is a few KB, and libvirt sends at most 4 MiB. */
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

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
 * command line) and returns what it printed. Gives up `timeoutMs` after
 * starting virsh, or when `cancel` is aborted: it then kills virsh and
 * everything it started (virsh runs in its own process group), even a virsh
 * that ignores SIGTERM or a child that keeps its output open. Throws
 * {@linkcode LibvirtUnavailable} when virsh cannot be run, answers too late or
 * prints more than any answer can be.
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
  timeoutMs = VIRSH_TIMEOUT_MS,
): Promise<VirshOutput> {
  const [program, ...args] = [...runAs, "virsh", "-r", "-c", uri, commands];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own process group, so that the group can be killed with whatever virsh started.
      detached: true,
    }).spawn();
  } catch (error) {
    throw new LibvirtUnavailable(spawnFailure(error, program));
  }
  // The deadline counts from virsh's start. setTimeout rather than AbortSignal.timeout, which
  // would keep a process that does not call Deno.exit alive until it fires.
  let timedOut = false;
  let giveUp = () => {};
  const late = new Promise<"late">((resolve) => giveUp = () => resolve("late"));
  const timer = setTimeout(() => {
    timedOut = true;
    giveUp();
  }, timeoutMs);
  cancel?.addEventListener("abort", giveUp, { once: true });
  if (cancel?.aborted) giveUp();
  const answer = Promise.all([
    readAtMost(child.stdout, MAX_OUTPUT_BYTES),
    readAtMost(child.stderr, MAX_OUTPUT_BYTES),
    child.status,
  ]).then(
    ([stdout, stderr, status]) => ({ stdout, stderr, status }),
    (error: unknown) => ({ error }),
  );
  const result = await Promise.race([answer, late]);
  clearTimeout(timer);
  cancel?.removeEventListener("abort", giveUp);
  if (result === "late" || "error" in result) killGroup(child);
  if (result === "late") {
    throw new LibvirtUnavailable(
      timedOut
        ? `virsh -r -c ${clip(uri)} did not answer within ${timeoutMs / 1000} s of being ` +
          "started (is libvirtd running?)"
        : "the answer was no longer needed",
    );
  }
  if ("error" in result) {
    throw new LibvirtUnavailable(
      result.error instanceof TooMuchOutput
        ? `virsh printed more than ${MAX_OUTPUT_BYTES} bytes, more than any answer can be`
        : spawnFailure(result.error, program),
    );
  }
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    success: result.status.success,
    stdout: text(result.stdout),
    stderr: text(result.stderr),
  };
}

class TooMuchOutput extends Error {}

// Reads a stream to its end, failing once it has carried more than `limit` bytes.
async function readAtMost(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += chunk.length;
    if (length > limit) throw new TooMuchOutput();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

// Kills virsh's process group: virsh and whatever it started, which must not outlive the hook.
// Deno may only signal a whole group with every program allowed, so kill(1) does it; without
// it (--allow-run=virsh alone), virsh itself is still killed.
function killGroup(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // exited already
  }
  try {
    new Deno.Command("kill", {
      args: ["-s", "KILL", "--", `-${child.pid}`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch {
    // kill may not be run: virsh's children are on their own
  }
}

/**
 * Looks the network `name` up with `virsh -r -c URI 'net-info NAME; net-dumpxml NAME'`;
 * aborting `cancel` stops virsh, and so does `timeoutMs` (see {@linkcode runVirsh}). Throws
 * `NetworkNotFound` (see `missingNetwork`) when libvirt has no such network, and
 * {@linkcode LibvirtUnavailable} when libvirt cannot be asked.
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
  timeoutMs = VIRSH_TIMEOUT_MS,
): Promise<Network> {
  // The name is NETWORK from extnet_pg ([A-Za-z0-9_.-]); --network keeps a leading '-' a value.
  const commands = `net-info --network ${name}; net-dumpxml --network ${name}`;
  let output: VirshOutput;
  try {
    output = await runVirsh(commands, uri, [], cancel, timeoutMs);
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
      `cannot check libvirt network '${name}' at ${clip(uri)}: ${virshError(output.stderr)}`,
    );
  }
  return parseNetworkReport(output.stdout);
}

/**
 * The reason in virsh's error output: its first `error:` line that is not the
 * generic "failed to get ..." one, with the line after "failed to connect to
 * the hypervisor", which says why.
 *
 * @example
 * ```ts
 * import { virshError } from "./virsh.ts";
 * virshError(
 *   "error: failed to connect to the hypervisor\n" +
 *     "error: Failed to connect socket to '/run/libvirt/libvirt-sock-ro': No such file or directory\n",
 * );
 * // "failed to connect to the hypervisor: Failed to connect socket to '/run/libvirt/libvirt-sock-ro': No such file or directory"
 * ```
 */
export function virshError(stderr: string): string {
  const lines = stderr.split("\n").map((line) => line.replace(/^error:\s*/, "").trim())
    .filter((line) => line && !line.startsWith("failed to get "));
  const [first, second] = lines;
  if (first === undefined) return "virsh failed";
  return clip(first.startsWith("failed to connect") && second ? `${first}: ${second}` : first, 300);
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
