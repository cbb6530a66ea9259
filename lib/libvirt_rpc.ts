/**
 * libvirt's RPC protocol, the part a read-only client needs: framing, the
 * message header, the calls the hook and the admin tools make, and their
 * replies, including libvirt's own errors (`remote_error`). Pure: no I/O.
 *
 * Wire format (libvirt's `src/rpc/virnetprotocol.x`): a 4-byte big-endian
 * length that counts itself, a header of six 32-bit words (program, version,
 * procedure, type, serial, status), then an XDR payload (RFC 4506). Argument
 * and reply layouts are those of `src/remote/remote_protocol.x`.
 *
 * @module
 */

/** The remote program's number (`REMOTE_PROGRAM`). */
export const REMOTE_PROGRAM = 0x20008086;
/** The remote program's version (`REMOTE_PROTOCOL_VERSION`). */
export const REMOTE_PROTOCOL_VERSION = 1;
/** The largest message libvirt sends or accepts, without its length word (`VIR_NET_MESSAGE_MAX`). */
export const MESSAGE_MAX = 16777216;
/** The largest string libvirt sends (`VIR_NET_MESSAGE_STRING_MAX`). */
const STRING_MAX = 4194304;
/** The most domains one listing returns (`REMOTE_DOMAIN_LIST_MAX`). */
const DOMAIN_LIST_MAX = 16384;
/** The length word and the header. */
const HEADER_BYTES = 28;
const CALL = 0;
const REPLY = 1;
const STATUS_OK = 0;
const STATUS_ERROR = 1;

/** The procedures this client calls (`remote_procedure`; numbers never change). */
export const Procedure = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  DOMAIN_GET_XML_DESC: 14,
  NETWORK_GET_XML_DESC: 43,
  NETWORK_GET_AUTOSTART: 44,
  NETWORK_LOOKUP_BY_NAME: 46,
  AUTH_LIST: 66,
  AUTH_POLKIT: 70,
  NETWORK_IS_ACTIVE: 152,
  CONNECT_LIST_ALL_DOMAINS: 273,
} as const;

/** The authentication schemes a daemon may ask for (`remote_auth_type`). */
export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** libvirt's error code for "Network not found" (`VIR_ERR_NO_NETWORK`). */
export const VIR_ERR_NO_NETWORK = 43;
/** libvirt's error code for "Domain not found" (`VIR_ERR_NO_DOMAIN`). */
export const VIR_ERR_NO_DOMAIN = 42;
/** `VIR_CONNECT_RO`: a read-only connection. */
export const VIR_CONNECT_RO = 1;
/** `VIR_CONNECT_LIST_DOMAINS_ACTIVE`: running domains only. */
export const VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1;

/**
 * An error libvirt answered a call with (`remote_error`): `message` is
 * libvirt's own text, `code` and `domain` its `virErrorNumber` and
 * `virErrorDomain`.
 *
 * @example
 * ```ts
 * import { LibvirtError, VIR_ERR_NO_NETWORK } from "./libvirt_rpc.ts";
 * const error = new LibvirtError(VIR_ERR_NO_NETWORK, 19, "Network not found");
 * error.code === VIR_ERR_NO_NETWORK; // true
 * ```
 */
export class LibvirtError extends Error {
  /** Creates the error from a decoded `remote_error`. */
  constructor(readonly code: number, readonly domain: number, message: string) {
    super(message);
    this.name = "LibvirtError";
  }
}

/**
 * The peer broke the protocol: a message that is truncated, too large,
 * malformed, or that answers another call than the one asked.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./libvirt_rpc.ts";
 * new ProtocolError("sent a message of 3 bytes").message; // "sent a message of 3 bytes"
 * ```
 */
export class ProtocolError extends Error {
  /** Creates the error; `message` says what the peer sent. */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** A network as libvirt names it on the wire (`remote_nonnull_network`). */
export interface NetworkRef {
  name: string;
  /** 16 bytes. */
  uuid: Uint8Array;
}

/** A domain as libvirt names it on the wire (`remote_nonnull_domain`). */
export interface DomainRef {
  name: string;
  /** 16 bytes. */
  uuid: Uint8Array;
  /** The running domain's id, -1 when it is not running. */
  id: number;
}

/** One call: its procedure and its encoded arguments. */
export interface Call {
  procedure: number;
  args: Uint8Array;
}

/** XDR arguments, built by the functions below. */
type Args = Uint8Array;

const encoder = new TextEncoder();

function uint(value: number): Args {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0);
  return bytes;
}

function opaque(bytes: Uint8Array, fixed = false): Args {
  const padded = new Uint8Array((fixed ? 0 : 4) + Math.ceil(bytes.length / 4) * 4);
  if (!fixed) padded.set(uint(bytes.length));
  padded.set(bytes, fixed ? 0 : 4);
  return padded;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

const string = (text: string) => opaque(encoder.encode(text));
const network = (ref: NetworkRef) => concat(string(ref.name), opaque(ref.uuid, true));
const domain = (ref: DomainRef) => concat(string(ref.name), opaque(ref.uuid, true), uint(ref.id));
const none = new Uint8Array(0);

/**
 * The calls this client makes, with their arguments encoded as
 * `remote_protocol.x` lays them out.
 *
 * @example
 * ```ts
 * import { calls, Procedure } from "./libvirt_rpc.ts";
 * calls.networkLookupByName("ovs-net").procedure === Procedure.NETWORK_LOOKUP_BY_NAME; // true
 * ```
 */
export const calls = {
  authList: (): Call => ({ procedure: Procedure.AUTH_LIST, args: none }),
  authPolkit: (): Call => ({ procedure: Procedure.AUTH_POLKIT, args: none }),
  /** `remote_connect_open_args`: an optional name, then flags. */
  connectOpen: (uri: string, flags = VIR_CONNECT_RO): Call => ({
    procedure: Procedure.CONNECT_OPEN,
    args: concat(uint(1), string(uri), uint(flags)),
  }),
  connectClose: (): Call => ({ procedure: Procedure.CONNECT_CLOSE, args: none }),
  networkLookupByName: (name: string): Call => ({
    procedure: Procedure.NETWORK_LOOKUP_BY_NAME,
    args: string(name),
  }),
  networkIsActive: (ref: NetworkRef): Call => ({
    procedure: Procedure.NETWORK_IS_ACTIVE,
    args: network(ref),
  }),
  networkGetAutostart: (ref: NetworkRef): Call => ({
    procedure: Procedure.NETWORK_GET_AUTOSTART,
    args: network(ref),
  }),
  networkGetXmlDesc: (ref: NetworkRef, flags = 0): Call => ({
    procedure: Procedure.NETWORK_GET_XML_DESC,
    args: concat(network(ref), uint(flags)),
  }),
  /** `remote_connect_list_all_domains_args`: need_results, then flags. */
  connectListAllDomains: (flags = VIR_CONNECT_LIST_DOMAINS_ACTIVE): Call => ({
    procedure: Procedure.CONNECT_LIST_ALL_DOMAINS,
    args: concat(uint(1), uint(flags)),
  }),
  domainGetXmlDesc: (ref: DomainRef, flags = 0): Call => ({
    procedure: Procedure.DOMAIN_GET_XML_DESC,
    args: concat(domain(ref), uint(flags)),
  }),
};

/**
 * Frames a call as a message with serial `serial`.
 *
 * @example
 * ```ts
 * import { calls, encodeCall } from "./libvirt_rpc.ts";
 * encodeCall(calls.authList(), 1).length; // 28
 * ```
 */
export function encodeCall(call: Call, serial: number): Uint8Array {
  const header = [HEADER_BYTES + call.args.length, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION];
  return concat(
    ...[...header, call.procedure, CALL, serial, STATUS_OK].map(uint),
    call.args,
  );
}

/**
 * The length of the message that starts `buffer` (its length word counts
 * itself), or `undefined` while fewer than 4 bytes have arrived. Throws
 * {@linkcode ProtocolError} for a length libvirt never sends.
 *
 * @example
 * ```ts
 * import { messageLength } from "./libvirt_rpc.ts";
 * messageLength(new Uint8Array([0, 0, 0, 28, 0x20])); // 28
 * ```
 */
export function messageLength(buffer: Uint8Array): number | undefined {
  if (buffer.length < 4) return undefined;
  const length = new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0);
  if (length < HEADER_BYTES || length - 4 > MESSAGE_MAX) {
    throw new ProtocolError(
      `sent a message of ${length} bytes (expected ${HEADER_BYTES} to ${MESSAGE_MAX + 4})`,
    );
  }
  return length;
}

/** Bytes read off a connection, handed out as whole messages. */
export interface MessageBuffer {
  /** Appends bytes as they arrived. */
  push(bytes: Uint8Array): void;
  /** Takes the first whole message, or `undefined` while it is incomplete. */
  next(): Uint8Array | undefined;
  /** How many bytes wait for the rest of their message. */
  readonly pending: number;
}

/**
 * Collects bytes off a connection and splits them into whole messages by their
 * length words. Throws {@linkcode ProtocolError} (from `next`) for a length
 * libvirt never sends.
 *
 * @example
 * ```ts
 * import { calls, encodeCall, messageBuffer } from "./libvirt_rpc.ts";
 * const buffer = messageBuffer();
 * const message = encodeCall(calls.authList(), 1);
 * buffer.push(message.subarray(0, 10));
 * buffer.next(); // undefined
 * buffer.push(message.subarray(10));
 * buffer.next()?.length; // 28
 * ```
 */
export function messageBuffer(): MessageBuffer {
  let buffered: Uint8Array = new Uint8Array(0);
  return {
    push(bytes) {
      buffered = concat(buffered, bytes);
    },
    next() {
      const length = messageLength(buffered);
      if (length === undefined || buffered.length < length) return undefined;
      const message = buffered.slice(0, length);
      buffered = buffered.slice(length);
      return message;
    },
    get pending() {
      return buffered.length;
    },
  };
}

/** A reply's payload, read in order by the decoders below. */
export interface Reader {
  readonly bytes: Uint8Array;
  offset: number;
}

/**
 * Decodes one whole message (length word included) as the reply to the call
 * `procedure` with serial `serial`, and returns a reader over its payload.
 * Throws {@linkcode LibvirtError} when libvirt answered with an error, and
 * {@linkcode ProtocolError} when the message is not that reply.
 *
 * @example
 * ```ts
 * import { decodeReply, Procedure } from "./libvirt_rpc.ts";
 * const reply = new Uint8Array([0, 0, 0, 28, 0x20, 0, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 2,
 *   0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0]);
 * decodeReply(reply, Procedure.CONNECT_CLOSE, 7).offset; // 28
 * ```
 */
export function decodeReply(message: Uint8Array, procedure: number, serial: number): Reader {
  const reader: Reader = { bytes: message, offset: 4 };
  const [program, version, proc, type, replySerial, status] = Array.from(
    { length: 6 },
    () => readUint(reader),
  );
  const expect = (what: string, got: number, wanted: number) => {
    if (got !== wanted) {
      throw new ProtocolError(`answered with ${what} ${got} where ${wanted} was expected`);
    }
  };
  expect("program", program, REMOTE_PROGRAM);
  expect("program version", version, REMOTE_PROTOCOL_VERSION);
  expect("message type", type, REPLY);
  expect("serial", replySerial, serial);
  expect("procedure", proc, procedure);
  if (status === STATUS_ERROR) throw decodeError(reader);
  expect("status", status, STATUS_OK);
  return reader;
}

/**
 * The serial of the reply `message`, to match it with its call when several
 * are in flight. Throws {@linkcode ProtocolError} for a message too short to
 * have a header.
 *
 * @example
 * ```ts
 * import { calls, encodeCall, serialOf } from "./libvirt_rpc.ts";
 * serialOf(encodeCall(calls.authList(), 5)); // 5
 * ```
 */
export function serialOf(message: Uint8Array): number {
  return readUint({ bytes: message, offset: 20 });
}

function readUint(reader: Reader): number {
  if (reader.offset + 4 > reader.bytes.length) {
    throw new ProtocolError(`sent a truncated message (${reader.bytes.length} bytes)`);
  }
  const view = new DataView(reader.bytes.buffer, reader.bytes.byteOffset + reader.offset, 4);
  reader.offset += 4;
  return view.getUint32(0);
}

function readInt(reader: Reader): number {
  return readUint(reader) | 0;
}

function readOpaque(reader: Reader, length: number): Uint8Array {
  const padded = Math.ceil(length / 4) * 4;
  if (reader.offset + padded > reader.bytes.length) {
    throw new ProtocolError(`sent a truncated message (${reader.bytes.length} bytes)`);
  }
  const bytes = reader.bytes.subarray(reader.offset, reader.offset + length);
  if (reader.bytes.subarray(reader.offset + length, reader.offset + padded).some((b) => b)) {
    throw new ProtocolError("sent a malformed message (non-zero XDR padding)");
  }
  reader.offset += padded;
  return bytes;
}

function readString(reader: Reader): string {
  const length = readUint(reader);
  if (length > STRING_MAX) {
    throw new ProtocolError(`sent a malformed message (a string of ${length} bytes)`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(readOpaque(reader, length));
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError("sent a malformed message (a string that is not UTF-8)");
  }
}

function readOptional<T>(reader: Reader, read: (reader: Reader) => T): T | undefined {
  const present = readUint(reader);
  if (present > 1) {
    throw new ProtocolError(`sent a malformed message (optional flag ${present})`);
  }
  return present ? read(reader) : undefined;
}

function readNetwork(reader: Reader): NetworkRef {
  return { name: readString(reader), uuid: readOpaque(reader, 16) };
}

function readDomain(reader: Reader): DomainRef {
  return { name: readString(reader), uuid: readOpaque(reader, 16), id: readInt(reader) };
}

// remote_error: code, domain, message?, level, dom?, str1?, str2?, str3?, int1, int2, net?
function decodeError(reader: Reader): LibvirtError {
  const code = readInt(reader);
  const domain = readInt(reader);
  const message = readOptional(reader, readString);
  readInt(reader);
  readOptional(reader, readDomain);
  for (let i = 0; i < 3; i++) readOptional(reader, readString);
  readInt(reader);
  readInt(reader);
  readOptional(reader, readNetwork);
  end(reader);
  return new LibvirtError(code, domain, message ?? `libvirt error ${code} without a message`);
}

function end<T>(reader: Reader, value?: T): T {
  if (reader.offset !== reader.bytes.length) {
    throw new ProtocolError(
      `sent a malformed message (${reader.bytes.length - reader.offset} bytes past its end)`,
    );
  }
  return value as T;
}

/**
 * The decoders of the replies this client reads, each checking that nothing
 * follows the value. Each throws {@linkcode ProtocolError} for a malformed reply.
 *
 * @example
 * ```ts
 * import { replies } from "./libvirt_rpc.ts";
 * replies.int({ bytes: new Uint8Array([0, 0, 0, 1]), offset: 0 }); // 1
 * ```
 */
export const replies = {
  /** A reply without a value (CONNECT_OPEN, CONNECT_CLOSE). */
  none: (reader: Reader): void => end(reader),
  /** An int (AUTH_POLKIT, NETWORK_IS_ACTIVE, NETWORK_GET_AUTOSTART). */
  int: (reader: Reader): number => end(reader, readInt(reader)),
  /** A string (NETWORK_GET_XML_DESC, DOMAIN_GET_XML_DESC). */
  string: (reader: Reader): string => end(reader, readString(reader)),
  network: (reader: Reader): NetworkRef => end(reader, readNetwork(reader)),
  /** AUTH_LIST: the schemes the daemon accepts on this socket. */
  authList: (reader: Reader): number[] => {
    const count = readUint(reader);
    if (count > 20) throw new ProtocolError(`sent a malformed message (${count} auth types)`);
    return end(reader, Array.from({ length: count }, () => readInt(reader)));
  },
  /** CONNECT_LIST_ALL_DOMAINS: the domains (the count that follows them is the same). */
  domains: (reader: Reader): DomainRef[] => {
    const count = readUint(reader);
    if (count > DOMAIN_LIST_MAX) {
      throw new ProtocolError(`sent a malformed message (${count} domains)`);
    }
    const domains = Array.from({ length: count }, () => readDomain(reader));
    readUint(reader);
    return end(reader, domains);
  },
};
