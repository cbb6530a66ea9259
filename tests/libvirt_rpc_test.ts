/**
 * The libvirt RPC client: its codec on byte exchanges recorded from a real
 * libvirtd (tests/fixtures/libvirt-rpc/), replayed by a fake daemon on a UNIX
 * socket, and fake daemons that break the protocol in each way a bad peer can.
 * Each must end in one clear refusal, never a hang, a crash or a misread answer.
 */

import assert from "node:assert/strict";
import { lookupNetwork, runningDomains } from "../host/libvirt.ts";
import { lookupNetwork as lookupNetworkWithVirsh } from "../host/virsh.ts";
import {
  calls,
  decodeReply,
  encodeCall,
  LibvirtError,
  MESSAGE_MAX,
  messageBuffer,
  messageLength,
  Procedure,
  ProtocolError,
  REMOTE_PROGRAM,
  replies,
  serialOf,
  VIR_ERR_NO_NETWORK,
} from "../lib/libvirt_rpc.ts";
import { LibvirtUnavailable, Refusal } from "../lib/refusal.ts";
import { ROOT, TEST_NETWORKS_URI } from "./helpers.ts";

const FIXTURES = `${ROOT}tests/fixtures/libvirt-rpc/`;

interface Fixture {
  description: string;
  answer: { value?: unknown; error?: string };
  virsh: { code: number; stdout: string; stderr: string };
  exchange: { from: "client" | "daemon"; hex: string }[];
}

const fixture = (name: string): Fixture => JSON.parse(Deno.readTextFileSync(`${FIXTURES}${name}`));
const bytes = (hex: string) => Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
const hex = (data: Uint8Array) => Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");

/** Reads whole messages off a connection, as the daemon does. */
function messageReader(conn: Deno.UnixConn) {
  const buffer = messageBuffer();
  const chunk = new Uint8Array(65536);
  return async (): Promise<Uint8Array | undefined> => {
    for (;;) {
      const message = buffer.next();
      if (message) return message;
      const count = await conn.read(chunk).catch(() => null);
      if (count === null) return undefined;
      buffer.push(chunk.subarray(0, count));
    }
  };
}

/**
 * A fake daemon on a fresh UNIX socket that serves one connection with `serve`,
 * then closes it; returns the socket path and a promise of the server's end.
 */
function fakeDaemon(
  serve: (conn: Deno.UnixConn, next: () => Promise<Uint8Array | undefined>) => Promise<void>,
) {
  const path = `${Deno.makeTempDirSync({ prefix: "network-nat-rpc-" })}/sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const done = listener.accept().then(async (conn) => {
    try {
      await serve(conn, messageReader(conn));
    } finally {
      listener.close();
      try {
        conn.close();
      } catch {
        // the client closed it already
      }
      Deno.removeSync(path.replace(/\/sock$/, ""), { recursive: true });
    }
  });
  return { path, done };
}

/** Replays a recorded exchange: each client message must be byte for byte the recorded one. */
function replay(recorded: Fixture) {
  return fakeDaemon(async (conn, next) => {
    for (const message of recorded.exchange) {
      if (message.from === "client") assert.equal(hex((await next())!), message.hex);
      else await conn.write(bytes(message.hex));
    }
  });
}

/** A reply message: the header words can be overridden to break it. */
function reply(
  procedure: number,
  serial: number,
  payload: number[] = [],
  header: { program?: number; status?: number; type?: number; length?: number } = {},
): Uint8Array {
  const words = [
    header.length ?? 28 + payload.length * 4,
    header.program ?? REMOTE_PROGRAM,
    1,
    procedure,
    header.type ?? 1,
    serial,
    header.status ?? 0,
    ...payload,
  ];
  const data = new Uint8Array(words.length * 4);
  words.forEach((word, i) => new DataView(data.buffer).setUint32(i * 4, word >>> 0));
  return data;
}

const authNone = (serial = 1) => reply(Procedure.AUTH_LIST, serial, [1, 0]);

Deno.test("the client asks libvirt exactly as recorded and reads the same answers as virsh", async (t) => {
  for (const name of ["lookup-active-ovs.json", "lookup-inactive.json", "lookup-polkit.json"]) {
    await t.step(name, async () => {
      const recorded = fixture(name);
      const { path, done } = replay(recorded);
      const network = await lookupNetwork(
        (recorded.answer.value as { name: string }).name,
        "qemu:///system",
        undefined,
        { socket: path },
      );
      await done;
      assert.deepEqual(JSON.parse(JSON.stringify(network)), recorded.answer.value);
      // virsh prints the same XML plus one newline.
      const xmlReply = recorded.exchange.filter((m) => m.from === "daemon").at(-2)!;
      const xml = replies.string(
        decodeReply(
          bytes(xmlReply.hex),
          Procedure.NETWORK_GET_XML_DESC,
          serialOf(bytes(xmlReply.hex)),
        ),
      );
      assert.equal(`${xml}\n`, recorded.virsh.stdout);
    });
  }
});

Deno.test("a missing network is libvirt's own error, refused as virsh's is, then the connection closed properly", async () => {
  const recorded = fixture("lookup-missing.json");
  const errorReply = bytes(recorded.exchange.filter((m) => m.from === "daemon")[2].hex);
  assert.throws(
    () => decodeReply(errorReply, Procedure.NETWORK_LOOKUP_BY_NAME, 3),
    (error: unknown) =>
      error instanceof LibvirtError && error.code === VIR_ERR_NO_NETWORK &&
      recorded.virsh.stderr.includes(`error: ${error.message}\n`),
  );
  const { path, done } = replay(recorded);
  await assert.rejects(
    lookupNetwork("no-such-net", "qemu:///system", undefined, { socket: path }),
    (error: unknown) =>
      error instanceof Refusal && !(error instanceof LibvirtUnavailable) &&
      error.message === recorded.answer.error!.replace(/^Refusal: /, ""),
  );
  await done;
});

Deno.test("the running domains' live XML comes in one connection, as virsh dumpxml prints it", async () => {
  const recorded = fixture("running-domains.json");
  const { path, done } = replay(recorded);
  const domains = await runningDomains({ socket: path });
  await done;
  assert.deepEqual(domains, recorded.answer.value);
  assert.equal(`${domains[0].xml}\n`, recorded.virsh.stdout);
});

Deno.test("calls are framed as libvirt's client frames them", () => {
  const recorded = fixture("lookup-active-ovs.json").exchange.filter((m) => m.from === "client");
  assert.equal(hex(encodeCall(calls.authList(), 1)), recorded[0].hex);
  assert.equal(hex(encodeCall(calls.connectOpen("qemu:///system"), 2)), recorded[1].hex);
  assert.equal(hex(encodeCall(calls.networkLookupByName("ovs-net"), 3)), recorded[2].hex);
  assert.equal(hex(encodeCall(calls.connectClose(), 7)), recorded.at(-1)!.hex);
});

Deno.test("a user other than root is let in by AUTH_POLKIT, after AUTH_LIST offers it", () => {
  const recorded = fixture("lookup-polkit.json").exchange;
  const offered = decodeReply(bytes(recorded[1].hex), Procedure.AUTH_LIST, 1);
  assert.deepEqual(replies.authList(offered), [2]);
  assert.equal(recorded[2].hex, hex(encodeCall(calls.authPolkit(), 2)));
  assert.equal(replies.int(decodeReply(bytes(recorded[3].hex), Procedure.AUTH_POLKIT, 2)), 1);
});

Deno.test("message lengths libvirt never sends are refused before anything is read", () => {
  for (const length of [0, 4, 27, MESSAGE_MAX + 5, 0xffffffff]) {
    const word = new Uint8Array(4);
    new DataView(word.buffer).setUint32(0, length);
    assert.throws(() => messageLength(word), ProtocolError, `length ${length}`);
  }
  assert.equal(messageLength(new Uint8Array(3)), undefined);
});

Deno.test("a reply to another call, or not a reply, is never read as the answer", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["wrong serial", reply(Procedure.AUTH_LIST, 9, [1, 0]), /serial 9 where 1/],
    ["wrong procedure", reply(Procedure.CONNECT_OPEN, 1), /procedure 1 where 66/],
    ["wrong program", reply(Procedure.AUTH_LIST, 1, [1, 0], { program: 7 }), /program 7/],
    ["a call, not a reply", reply(Procedure.AUTH_LIST, 1, [1, 0], { type: 0 }), /message type 0/],
    ["unknown status", reply(Procedure.AUTH_LIST, 1, [1, 0], { status: 2 }), /status 2/],
  ];
  for (const [label, message, expected] of cases) {
    assert.throws(() => decodeReply(message, Procedure.AUTH_LIST, 1), expected, label);
  }
});

Deno.test("malformed payloads are refused, not misread", () => {
  const read = (payload: number[], decode: (r: ReturnType<typeof decodeReply>) => unknown) =>
    decode(decodeReply(reply(Procedure.AUTH_LIST, 1, payload), Procedure.AUTH_LIST, 1));
  assert.throws(() => read([1], replies.authList), /truncated/);
  assert.throws(() => read([1, 0, 0], replies.authList), /past its end/);
  assert.throws(() => read([0xffffffff], replies.authList), /auth types/);
  assert.throws(() => read([5, 0x41424300], replies.string), /truncated/);
  assert.throws(() => read([1, 0x41424344], replies.string), /padding/);
  assert.throws(() => read([0x7fffffff], replies.string), /string of/);
  assert.throws(() => read([2, 0xffff0000], replies.string), /UTF-8/);
  // An error reply whose optional message flag is neither 0 nor 1.
  assert.throws(
    () =>
      decodeReply(
        reply(Procedure.AUTH_LIST, 1, [43, 19, 7], { status: 1 }),
        Procedure.AUTH_LIST,
        1,
      ),
    /optional flag 7/,
  );
});

/** Asks a fake daemon for a network with a short deadline; returns the refusal's message. */
async function refusalFrom(
  serve: Parameters<typeof fakeDaemon>[0],
): Promise<string> {
  const { path, done } = fakeDaemon(serve);
  const error = await lookupNetwork("ovs-net", "qemu:///system", undefined, {
    socket: path,
    deadlineMs: 300,
  }).then(() => undefined, (error: unknown) => error);
  await done;
  assert.ok(error instanceof LibvirtUnavailable, `refused as unavailable: ${error}`);
  assert.ok(!error.message.includes("\n"));
  return error.message.replace(path, "SOCK");
}

Deno.test("bad peers are refused with one clear line", async (t) => {
  const cases: [string, Parameters<typeof fakeDaemon>[0], string | RegExp][] = [
    [
      "accepts and never answers: bounded by the deadline",
      async (_conn, next) => {
        await next();
        await next(); // until the client gives up and closes
      },
      "cannot check libvirt network 'ovs-net': libvirt at SOCK accepted the connection but " +
      "did not answer within 300 ms",
    ],
    [
      "closes without answering",
      async (_conn, next) => void await next(),
      /libvirt at SOCK closed the connection without answering$/,
    ],
    [
      "closes mid-reply",
      async (conn, next) => {
        await next();
        await conn.write(authNone().subarray(0, 30));
      },
      /closed the connection in the middle of a reply \(30 bytes\)$/,
    ],
    [
      "an oversized message",
      async (conn, next) => {
        await next();
        await conn.write(reply(Procedure.AUTH_LIST, 1, [], { length: 0x7fffffff }));
      },
      /sent a message of 2147483647 bytes \(expected 28 to 16777220\)$/,
    ],
    [
      "a truncated message",
      async (conn, next) => {
        await next();
        await conn.write(reply(Procedure.AUTH_LIST, 1, [1]));
      },
      /sent a truncated message \(32 bytes\)$/,
    ],
    [
      "the wrong serial",
      async (conn, next) => {
        await next();
        await conn.write(authNone(2));
      },
      /answered with serial 2 where 1 was expected$/,
    ],
    [
      "the wrong procedure",
      async (conn, next) => {
        await next();
        await conn.write(authNone());
        await next();
        await conn.write(reply(Procedure.CONNECT_CLOSE, 2));
      },
      /answered with procedure 2 where 1 was expected$/,
    ],
    [
      "the wrong program",
      async (conn, next) => {
        await next();
        await conn.write(reply(Procedure.AUTH_LIST, 1, [1, 0], { program: 0x20008087 }));
      },
      /answered with program 536903815 where 536903814 was expected$/,
    ],
    [
      "an error reply without a message",
      async (conn, next) => {
        await next();
        await conn.write(reply(Procedure.AUTH_LIST, 1, [1, 7, 0, 2, 0, 0, 0, 0, 0, 0, 0], {
          status: 1,
        }));
      },
      /at SOCK: libvirt error 1 without a message$/,
    ],
  ];
  for (const [label, serve, expected] of cases) {
    await t.step(label, async () => {
      const started = performance.now();
      const message = await refusalFrom(serve);
      if (typeof expected === "string") assert.equal(message, expected);
      else assert.match(message, expected);
      assert.ok(performance.now() - started < 1000, "no waiting beyond the deadline");
    });
  }
});

Deno.test("a socket that is not there, or not listening, is refused with one line", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-rpc-" });
  try {
    await assert.rejects(
      lookupNetwork("ovs-net", "qemu:///system", undefined, { socket: `${dir}/none` }),
      LibvirtUnavailable,
      "has no socket (is libvirtd running?)",
    );
    Deno.listen({ transport: "unix", path: `${dir}/stale` }).close();
    await assert.rejects(
      lookupNetwork("ovs-net", "qemu:///system", undefined, { socket: `${dir}/stale` }),
      LibvirtUnavailable,
      "is not listening (is libvirtd running?)",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SASL on the read-only socket falls back to virsh, with virsh's answer", async () => {
  const { path, done } = fakeDaemon(async (conn, next) => {
    await next();
    await conn.write(reply(Procedure.AUTH_LIST, 1, [1, 1]));
    await next();
  });
  const network = await lookupNetwork("ovs-net", TEST_NETWORKS_URI, undefined, { socket: path });
  await done;
  assert.deepEqual(network, await lookupNetworkWithVirsh("ovs-net", TEST_NETWORKS_URI));
});

Deno.test("nothing the client leaves behind keeps a process alive after the answer", async () => {
  const { path, done } = replay(fixture("lookup-active-ovs.json"));
  const script = `const { lookupNetwork } = await import(${
    JSON.stringify(`file://${ROOT}host/libvirt.ts`)
  });
    console.log((await lookupNetwork("ovs-net", "qemu:///system", undefined, { socket: ${
    JSON.stringify(path)
  } })).name);`;
  const started = performance.now();
  // The default deadline is 30 s: a timer or listener left behind would hold the process that long.
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  await done;
  assert.equal(new TextDecoder().decode(output.stdout), "ovs-net\n");
  assert.ok(performance.now() - started < 15000, "the process ended with the answer");
});

Deno.test("an answer no longer needed stops the conversation at once", async () => {
  const cancel = new AbortController();
  const { path, done } = fakeDaemon(async (_conn, next) => {
    await next();
    cancel.abort();
    await next();
  });
  await assert.rejects(
    lookupNetwork("ovs-net", "qemu:///system", cancel.signal, { socket: path }),
    LibvirtUnavailable,
    "the answer was no longer needed",
  );
  await done;
});
