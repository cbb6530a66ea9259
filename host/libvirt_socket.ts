/**
 * One read-only conversation with a libvirt daemon over its UNIX socket, under
 * one deadline: the socket I/O around the pure codec of lib/libvirt_rpc.ts.
 *
 * @module
 */

import {
  type Call,
  decodeReply,
  encodeCall,
  LibvirtError,
  messageBuffer,
  ProtocolError,
  type Reader,
  serialOf,
} from "../lib/libvirt_rpc.ts";

/**
 * The socket could not be used: not there, not allowed, or the daemon did not
 * answer in time. `message` completes "libvirt at PATH ...".
 *
 * @example
 * ```ts
 * import { SocketError } from "./libvirt_socket.ts";
 * new SocketError("is not listening (is libvirtd running?)").name; // "SocketError"
 * ```
 */
export class SocketError extends Error {
  /** Creates the error; `message` completes "libvirt at PATH ...". */
  constructor(message: string) {
    super(message);
    this.name = "SocketError";
  }
}

/** The answer to one call of a batch: a reader over its reply, or libvirt's error. */
export type Answer = { reader: Reader } | { error: LibvirtError };

/** Sends calls on the open connection. */
export interface Session {
  /** Sends `batch` at once and returns the answers in call order. */
  callAll(batch: Call[]): Promise<Answer[]>;
  /** Sends one call and returns a reader over its reply; throws libvirt's error. */
  call(call: Call): Promise<Reader>;
}

/** How long to wait, and when to stop waiting. */
export interface SessionOptions {
  /** The deadline for the whole conversation, counted from the connection attempt. */
  deadlineMs: number;
  /** Aborting it ends the conversation: the answer is no longer needed. */
  signal?: AbortSignal;
}

/**
 * Connects to the daemon at `path`, runs `converse` and closes the connection,
 * all within `options.deadlineMs`. Throws {@linkcode SocketError} when the
 * socket cannot be used or the deadline passes, {@linkcode ProtocolError} when
 * the peer breaks the protocol, and libvirt's own {@linkcode LibvirtError}s.
 * Nothing it starts (a timer, a listener) outlives it.
 *
 * @example
 * ```ts ignore
 * import { withLibvirt } from "./libvirt_socket.ts";
 * import { calls, replies } from "../lib/libvirt_rpc.ts";
 * const types = await withLibvirt("/run/libvirt/libvirt-sock-ro", { deadlineMs: 30000 },
 *   async (session) => replies.authList(await session.call(calls.authList())));
 * ```
 */
export async function withLibvirt<T>(
  path: string,
  options: SessionOptions,
  converse: (session: Session) => Promise<T>,
): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) throw new SocketError("was not asked: the answer was no longer needed");
  // AbortSignal.timeout rather than setTimeout: a Deno process's first setTimeout costs it
  // ~10 ms. Its timer does not keep the process alive; the listener below would, so it goes.
  const deadline = AbortSignal.timeout(options.deadlineMs);
  let conn: Deno.UnixConn | undefined;
  let stop = (_reason: SocketError) => {};
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => {});
  const onDeadline = () =>
    stop(
      new SocketError(
        (conn ? "accepted the connection but did not answer" : "did not accept the connection") +
          ` within ${formatSeconds(options.deadlineMs)}`,
      ),
    );
  const onCancel = () =>
    stop(new SocketError("was not waited for: the answer was no longer needed"));
  deadline.addEventListener("abort", onDeadline);
  signal?.addEventListener("abort", onCancel);
  const bounded = <U>(promise: Promise<U>) => Promise.race([promise, stopped]);
  let done = false;
  try {
    const connecting = Deno.connect({ transport: "unix", path });
    // A connection accepted after the deadline is closed at once, not left open.
    connecting.then((late) => done && late.close(), () => {});
    conn = await bounded(connecting).catch((error) => {
      throw error instanceof SocketError ? error : new SocketError(connectFailure(error));
    });
    const session = openSession(conn, bounded);
    return await converse(session);
  } finally {
    done = true;
    deadline.removeEventListener("abort", onDeadline);
    signal?.removeEventListener("abort", onCancel);
    try {
      conn?.close();
    } catch {
      // already closed by the peer
    }
  }
}

function openSession(
  conn: Deno.UnixConn,
  bounded: <U>(promise: Promise<U>) => Promise<U>,
): Session {
  let nextSerial = 1;
  const buffer = messageBuffer();
  const chunk = new Uint8Array(65536);

  async function readMessage(): Promise<Uint8Array> {
    for (;;) {
      const message = buffer.next();
      if (message) return message;
      const count = await bounded(conn.read(chunk)).catch((error) => {
        throw error instanceof SocketError ? error : new SocketError(`failed: ${error}`);
      });
      if (count === null) {
        throw new ProtocolError(
          buffer.pending
            ? `closed the connection in the middle of a reply (${buffer.pending} bytes)`
            : "closed the connection without answering",
        );
      }
      buffer.push(chunk.subarray(0, count));
    }
  }

  async function callAll(batch: Call[]): Promise<Answer[]> {
    const serials = batch.map(() => nextSerial++);
    let request = new Uint8Array(0);
    for (const [i, call] of batch.entries()) {
      const message = encodeCall(call, serials[i]);
      const joined = new Uint8Array(request.length + message.length);
      joined.set(request);
      joined.set(message, request.length);
      request = joined;
    }
    for (let sent = 0; sent < request.length;) {
      sent += await bounded(conn.write(request.subarray(sent))).catch((error) => {
        throw error instanceof SocketError ? error : new SocketError(`failed: ${error}`);
      });
    }
    // The daemon answers calls in parallel worker threads: replies may come in any order.
    const answers: Answer[] = new Array(batch.length);
    for (let received = 0; received < batch.length; received++) {
      const message = await readMessage();
      const serial = serialOf(message);
      const index = serials.indexOf(serial);
      if (index < 0 || answers[index]) {
        throw new ProtocolError(
          `answered with serial ${serial} where ${serials.join(" or ")} was expected`,
        );
      }
      try {
        answers[index] = { reader: decodeReply(message, batch[index].procedure, serial) };
      } catch (error) {
        if (!(error instanceof LibvirtError)) throw error;
        answers[index] = { error };
      }
    }
    return answers;
  }

  return {
    callAll,
    async call(call) {
      const [answer] = await callAll([call]);
      if ("error" in answer) throw answer.error;
      return answer.reader;
    },
  };
}

function connectFailure(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "has no socket (is libvirtd running?)";
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "is not listening (is libvirtd running?)";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return "may not be reached by the hook (start it with --allow-read, --allow-write and " +
      "--allow-net=unix: for that socket)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "refused this user access to its socket (see the socket's mode and owner)";
  }
  return `cannot be reached: ${error}`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
