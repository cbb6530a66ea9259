/**
 * Records the byte exchanges of tests/fixtures/libvirt-rpc/ from a real libvirtd:
 * run inside the sandbox, as root, with the sandbox's networks and one running VM
 * (`sandbox-vm`):
 *
 *   tests/libvirt/sandbox.sh sh -c 'virsh -q define DOMAIN.xml && virsh -q start --paused \
 *     sandbox-vm && deno run -A tests/libvirt/record_rpc.ts tests/fixtures/libvirt-rpc'
 *
 * It puts a recording proxy between this project's client (host/libvirt.ts) and
 * libvirtd's read-only socket, cuts each direction into messages, and writes one
 * JSON file per exchange, with what virsh answers to the same question beside it.
 *
 * Run as another user than root, in a sandbox whose read-only socket asks for polkit
 * (SANDBOX_AUTH_UNIX_RO=polkit), it records only `lookup-polkit.json`: the daemon
 * sees the proxy's user, so the exchange includes AUTH_POLKIT.
 *
 * @module
 */

import { lookupNetwork, runningDomains, SYSTEM_SOCKETS } from "../../host/libvirt.ts";
import { messageLength } from "../../lib/libvirt_rpc.ts";

const [out] = Deno.args;
const daemon = SYSTEM_SOCKETS.find((path) => {
  try {
    return Deno.statSync(path).isSocket;
  } catch {
    return false;
  }
})!;
const proxyPath = `${Deno.makeTempDirSync()}/proxy.sock`;

interface Message {
  from: "client" | "daemon";
  hex: string;
}

/** Forwards one connection to the daemon, and returns its messages in the order they passed. */
function recordOne(listener: Deno.UnixListener): Promise<Message[]> {
  return listener.accept().then(async (client) => {
    const upstream = await Deno.connect({ transport: "unix", path: daemon });
    const messages: Message[] = [];
    const pump = async (from: Deno.UnixConn, to: Deno.UnixConn, who: Message["from"]) => {
      let pending = new Uint8Array(0);
      for await (const chunk of from.readable) {
        const joined = new Uint8Array(pending.length + chunk.length);
        joined.set(pending);
        joined.set(chunk, pending.length);
        pending = joined;
        for (let length = messageLength(pending); length && pending.length >= length;) {
          const hex = Array.from(
            pending.subarray(0, length),
            (b) => b.toString(16).padStart(2, "0"),
          );
          messages.push({ from: who, hex: hex.join("") });
          pending = pending.slice(length);
          length = messageLength(pending);
        }
        await to.write(chunk);
      }
      await to.closeWrite().catch(() => {}); // the other side may be gone already
    };
    await Promise.all([pump(client, upstream, "client"), pump(upstream, client, "daemon")]);
    return messages;
  });
}

async function virsh(...args: string[]) {
  const output = await new Deno.Command("virsh", { args: ["-r", ...args], env: { LC_ALL: "C" } })
    .output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

async function record(
  file: string,
  description: string,
  ask: (socket: string) => Promise<unknown>,
  virshArgs: string[],
) {
  const listener = Deno.listen({ transport: "unix", path: proxyPath });
  const recording = recordOne(listener);
  const answer = await ask(proxyPath).then(
    (value) => ({ value }),
    (error) => ({ error: String(error) }),
  );
  const exchange = await recording;
  listener.close();

  const fixture = { description, daemon, answer, virsh: await virsh(...virshArgs), exchange };
  Deno.writeTextFileSync(`${out}/${file}`, JSON.stringify(fixture, null, 1) + "\n");
}

if (Deno.uid() !== 0) {
  await record(
    "lookup-polkit.json",
    "as user nobody on a socket that asks for polkit: AUTH_LIST offers POLKIT, AUTH_POLKIT, " +
      "then the lookup of an active Open vSwitch network",
    (socket) => lookupNetwork("ovs-net", "qemu:///system", undefined, { socket }),
    ["net-dumpxml", "ovs-net"],
  );
  Deno.exit(0);
}
await record(
  "lookup-active-ovs.json",
  "NETWORK_LOOKUP_BY_NAME, then IS_ACTIVE, GET_AUTOSTART, GET_XML_DESC pipelined: an " +
    "active Open vSwitch network with VLAN portgroups",
  (socket) => lookupNetwork("ovs-net", "qemu:///system", undefined, { socket }),
  ["net-dumpxml", "ovs-net"],
);
await record(
  "lookup-inactive.json",
  "the same for a defined, inactive network",
  (socket) => lookupNetwork("off-net", "qemu:///system", undefined, { socket }),
  ["net-dumpxml", "off-net"],
);
await record(
  "lookup-missing.json",
  "NETWORK_LOOKUP_BY_NAME of a network that does not exist: libvirt's error reply",
  (socket) => lookupNetwork("no-such-net", "qemu:///system", undefined, { socket }),
  ["net-dumpxml", "no-such-net"],
);
await record(
  "running-domains.json",
  "CONNECT_LIST_ALL_DOMAINS (running), then DOMAIN_GET_XML_DESC of each, pipelined",
  (socket) => runningDomains({ socket }),
  ["dumpxml", "sandbox-vm"],
);
