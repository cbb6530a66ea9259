/**
 * Asking libvirt, read-only: the local system daemon over its read-only UNIX
 * socket, without starting any process; anything else (a `test://` or remote
 * URI, SASL on the socket, no socket) through `virsh` as before.
 *
 * @module
 */

import {
  AuthType,
  calls,
  LibvirtError,
  ProtocolError,
  replies,
  VIR_ERR_NO_DOMAIN,
  VIR_ERR_NO_NETWORK,
} from "../lib/libvirt_rpc.ts";
import { type Network, parseNetwork } from "../lib/network.ts";
import { LibvirtUnavailable, missingNetwork } from "../lib/refusal.ts";
import { type Session, SocketError, withLibvirt } from "./libvirt_socket.ts";
import { lookupNetwork as lookupNetworkWithVirsh } from "./virsh.ts";

export { libvirtUri } from "./virsh.ts";

/** The URI of the local system daemon, which the hook asks over its socket. */
export const SYSTEM_URI = "qemu:///system";

/**
 * The read-only sockets of the system daemon, in the order libvirt's own client
 * tries them: the modular QEMU daemon's, else the monolithic libvirtd's.
 */
export const SYSTEM_SOCKETS = [
  "/run/libvirt/virtqemud-sock-ro",
  "/run/libvirt/libvirt-sock-ro",
] as const;

/**
 * How long libvirt may take to answer, counted from the connection: VDSM waits
 * for a hook forever, and a host starting many VMs at once can be slow.
 */
export const LIBVIRT_DEADLINE_MS = 30_000;

/** Where and how long to ask; tests point these at a fake daemon. */
export interface AskOptions {
  /** The socket to use instead of the system daemon's. */
  socket?: string;
  /** The deadline instead of {@linkcode LIBVIRT_DEADLINE_MS}. */
  deadlineMs?: number;
}

/**
 * The socket to ask for `uri`: the system daemon's first existing read-only
 * socket for `qemu:///system`, else `undefined` (virsh is asked).
 *
 * @example
 * ```ts ignore
 * import { systemSocket } from "./libvirt.ts";
 * systemSocket("qemu:///system"); // "/run/libvirt/libvirt-sock-ro" on a monolithic libvirtd
 * systemSocket("test:///default"); // undefined
 * ```
 */
export function systemSocket(uri: string): string | undefined {
  if (uri !== SYSTEM_URI) return undefined;
  return SYSTEM_SOCKETS.find((path) => {
    try {
      return Deno.statSync(path).isSocket;
    } catch {
      return false;
    }
  });
}

/**
 * Looks the network `name` up at `uri`: over the system daemon's read-only
 * socket when `uri` is `qemu:///system` and the socket is there, else with
 * virsh. Aborting `cancel` stops asking. Throws `NetworkNotFound` (a
 * {@linkcode Refusal}) when libvirt has no such network, and {@linkcode LibvirtUnavailable} when libvirt
 * cannot be asked.
 *
 * @example
 * ```ts ignore
 * import { lookupNetwork } from "./libvirt.ts";
 * const network = await lookupNetwork("ovs-net", "qemu:///system");
 * ```
 */
export async function lookupNetwork(
  name: string,
  uri: string,
  cancel?: AbortSignal,
  options: AskOptions = {},
): Promise<Network> {
  const socket = options.socket ?? systemSocket(uri);
  if (socket === undefined) return await lookupNetworkWithVirsh(name, uri, cancel);
  try {
    return await ask(socket, uri, options, cancel, async (session) => {
      const network = replies.network(await session.call(calls.networkLookupByName(name)));
      const [active, autostart, xml] = await session.callAll([
        calls.networkIsActive(network),
        calls.networkGetAutostart(network),
        calls.networkGetXmlDesc(network),
      ]).then((answers) =>
        answers.map((answer) => {
          if ("error" in answer) throw answer.error;
          return answer.reader;
        })
      );
      return parseNetwork(
        {
          name: network.name,
          active: replies.int(active) === 1,
          autostart: replies.int(autostart) === 1,
        },
        replies.string(xml),
        "libvirt",
      );
    });
  } catch (error) {
    if (error instanceof SaslRequired) return await lookupNetworkWithVirsh(name, uri, cancel);
    if (error instanceof LibvirtError && error.code === VIR_ERR_NO_NETWORK) {
      throw missingNetwork(name);
    }
    throw unavailable(error, socket, `cannot check libvirt network '${name}'`);
  }
}

/** A running domain and its live XML. */
export interface RunningDomain {
  name: string;
  xml: string;
}

/**
 * The live XML of every running domain of the system daemon, asked over its
 * read-only socket in one connection: one listing, then every domain's XML in
 * one pipelined round. A domain that stops meanwhile is left out. Throws
 * {@linkcode LibvirtUnavailable} when libvirt cannot be asked this way (no
 * socket, SASL), with the reason.
 *
 * @example
 * ```ts ignore
 * import { runningDomains } from "./libvirt.ts";
 * for (const { name, xml } of await runningDomains()) console.log(name, xml.length);
 * ```
 */
export async function runningDomains(options: AskOptions = {}): Promise<RunningDomain[]> {
  const socket = options.socket ?? systemSocket(SYSTEM_URI);
  const what = "cannot list the running VMs";
  if (socket === undefined) {
    throw new LibvirtUnavailable(
      `${what}: libvirt has no read-only socket (${SYSTEM_SOCKETS.join(", ")}); ` +
        "is libvirtd running?",
    );
  }
  try {
    return await ask(socket, SYSTEM_URI, options, undefined, async (session) => {
      const domains = replies.domains(await session.call(calls.connectListAllDomains()));
      const answers = await session.callAll(domains.map((ref) => calls.domainGetXmlDesc(ref)));
      return answers.flatMap((answer, i) => {
        if (!("error" in answer)) {
          return [{ name: domains[i].name, xml: replies.string(answer.reader) }];
        }
        if (answer.error.code === VIR_ERR_NO_DOMAIN) return [];
        throw answer.error;
      });
    });
  } catch (error) {
    throw unavailable(error, socket, what);
  }
}

/** The daemon asks for SASL on its read-only socket, which only virsh (the C library) speaks. */
class SaslRequired extends Error {}

// One read-only conversation: authentication, CONNECT_OPEN, `converse`, CONNECT_CLOSE.
function ask<T>(
  socket: string,
  uri: string,
  options: AskOptions,
  cancel: AbortSignal | undefined,
  converse: (session: Session) => Promise<T>,
): Promise<T> {
  const deadlineMs = options.deadlineMs ?? LIBVIRT_DEADLINE_MS;
  return withLibvirt(socket, { deadlineMs, signal: cancel }, async (session) => {
    // AUTH_LIST first: the daemon answers any other call "authentication required" until then.
    const types = replies.authList(await session.call(calls.authList()));
    if (types.length && !types.includes(AuthType.NONE)) {
      if (types.includes(AuthType.POLKIT)) {
        replies.int(await session.call(calls.authPolkit()));
      } else if (types.includes(AuthType.SASL) && mayRunVirsh()) {
        throw new SaslRequired();
      } else {
        throw new SocketError(
          `asks for ${types.includes(AuthType.SASL) ? "SASL" : `auth type ${types}`} on its ` +
            'read-only socket, which the hook does not speak; set auth_unix_ro = "polkit" ' +
            "in libvirtd.conf (libvirt's default)",
        );
      }
    }
    replies.none(await session.call(calls.connectOpen(uri)));
    let answer: T;
    try {
      answer = await converse(session);
    } catch (error) {
      // libvirtd logs a connection closed without CONNECT_CLOSE as an error ("End of file
      // while reading data"): after libvirt's own error (no such network), close it properly.
      if (error instanceof LibvirtError) await session.call(calls.connectClose()).catch(() => {});
      throw error;
    }
    replies.none(await session.call(calls.connectClose()));
    return answer;
  });
}

// Whether this process may fall back to virsh: the hook in production may not run anything.
function mayRunVirsh(): boolean {
  return Deno.permissions.querySync({ name: "run", command: "virsh" }).state === "granted";
}

function unavailable(error: unknown, socket: string, what: string): unknown {
  if (error instanceof LibvirtError) {
    return new LibvirtUnavailable(`${what} at ${socket}: ${error.message}`);
  }
  if (error instanceof SocketError || error instanceof ProtocolError) {
    return new LibvirtUnavailable(`${what}: libvirt at ${socket} ${error.message}`);
  }
  return error;
}
