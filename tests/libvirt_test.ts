/**
 * The hook's real output against a real libvirtd with Open vSwitch (Debian's
 * packages, tests/libvirt/packages.txt), inside the private namespaces of
 * tests/libvirt/sandbox.sh: where a vNIC lands, which VLAN its port really
 * carries, and what the hook refuses before libvirt would go wrong.
 *
 * Needs root and the packages (`tests/libvirt/sandbox.sh --check` says what is
 * missing); ignored without them, with the reason, except under CI (CI=true),
 * where it must run.
 */

import assert from "node:assert/strict";
import { HOOK_POINTS } from "../lib/hook.ts";
import { corpus, needing, readableCheckout, ROOT } from "./helpers.ts";

const NOBODY = 65534;
const SANDBOX = `${ROOT}tests/libvirt/sandbox.sh`;

/** What this host lacks for the sandbox, as the sandbox itself says (`undefined`: nothing). */
function sandboxMissing(): string | undefined {
  const check = new Deno.Command(SANDBOX, { args: ["--check"], stderr: "inherit" }).outputSync();
  if (check.success) return undefined;
  const said = new TextDecoder().decode(check.stdout).trim();
  return said || `sandbox.sh --check exited ${check.code}`;
}

const MISSING = sandboxMissing();

/** A test against the sandbox: ignored, with the reason, where it cannot run (except in CI). */
function test(name: string, fn: () => Promise<void>): void {
  Deno.test(needing(MISSING, { name, fn, sanitizeOps: false, sanitizeResources: false }));
}

/** The running sandbox: its namespace's first process, and a scratch tree for the hook. */
interface Sandbox {
  process: Deno.ChildProcess;
  pid: number;
  work: string;
}

let sandbox: Promise<Sandbox> | undefined;

/** A scratch tree that goes when this test process ends, whatever the tests did. */
function workTree(): string {
  const work = Deno.makeTempDirSync({ prefix: "network-nat-libvirt-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(work, { recursive: true }));
  Deno.chmodSync(work, 0o755);
  for (const point of HOOK_POINTS) {
    Deno.mkdirSync(`${work}/hooks/${point}`, { recursive: true });
    Deno.symlinkSync(`${readableCheckout()}main.ts`, `${work}/hooks/${point}/50_network_nat`);
  }
  for (const dir of ["home", "tmp"]) {
    Deno.mkdirSync(`${work}/${dir}`);
    Deno.chownSync(`${work}/${dir}`, NOBODY, NOBODY);
  }
  return work;
}

function startSandbox(): Promise<Sandbox> {
  return sandbox ??= (async () => {
    const work = workTree();
    // The sandbox lives until its standard input closes: at the last test, or when this process
    // ends. Its logs go with it (a failed start prints their end, which the error below carries).
    const process = new Deno.Command(SANDBOX, {
      args: ["sh", "-c", "echo ready; exec cat >/dev/null"],
      env: { SANDBOX_KEEP: Deno.env.get("SANDBOX_KEEP") ?? "0" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(process.stderr).text();
    const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    if (!value?.startsWith("ready")) {
      const { code } = await process.status;
      throw new Error(`the sandbox did not start (exit code ${code}):\n${await stderr}`);
    }
    await reader.cancel();
    // sandbox.sh → unshare → the namespace's first process (Deno may read /proc only with -A).
    const child = async (pid: number) => {
      const { stdout } = await new Deno.Command("cat", {
        args: [`/proc/${pid}/task/${pid}/children`],
      }).output();
      return Number(new TextDecoder().decode(stdout).trim().split(" ")[0]);
    };
    return { process, pid: await child(await child(process.pid)), work };
  })();
}

/** Runs a command inside the sandbox as root; returns its output, failing on a non-zero exit. */
async function inside(...command: string[]): Promise<string> {
  const { code, stdout, stderr } = await insideRaw(command);
  if (code !== 0) throw new Error(`${command.join(" ")} failed (${code}): ${stderr}`);
  return stdout;
}

async function insideRaw(
  command: string[],
  env: Record<string, string> = {},
  user?: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { pid } = await startSandbox();
  const drop = user === undefined
    ? []
    : ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--clear-groups", "--"];
  const output = await new Deno.Command("nsenter", {
    args: ["-t", String(pid), "-m", "-n", "-p", "-i", "-u", "--", ...drop, ...command],
    cwd: "/",
    stdin: "null",
    clearEnv: true,
    env: {
      PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      LIBVIRT_DEFAULT_URI: "qemu:///system",
      ...env,
    },
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

/** Runs the installed hook of `point` as VDSM would (user nobody, cwd /) on `xml`. */
async function hook(point: string, xml: string, extnetPg: string) {
  const { work } = await startSandbox();
  const file = Deno.makeTempFileSync({ dir: `${work}/tmp`, prefix: "hook_domxml-" });
  Deno.writeTextFileSync(file, xml);
  Deno.chownSync(file, NOBODY, NOBODY);
  const run = await insideRaw(
    [`${work}/hooks/${point}/50_network_nat`],
    { HOME: `${work}/home`, _hook_domxml: file, extnet_pg: extnetPg, vmId: "test" },
    NOBODY,
  );
  const result = { ...run, xml: Deno.readTextFileSync(file) };
  Deno.removeSync(file);
  return result;
}

/** The hook's output for a redirect it must accept. */
async function hooked(point: string, xml: string, extnetPg: string): Promise<string> {
  const run = await hook(point, xml, extnetPg);
  assert.equal(run.code, 0, `${point} ${extnetPg}: ${run.stderr}`);
  assert.match(run.stderr, /^network-nat: .* -> network /);
  return run.xml;
}

/** Writes `text` to a file in the scratch tree and returns its path. */
async function scratchFile(name: string, text: string): Promise<string> {
  const { work } = await startSandbox();
  Deno.writeTextFileSync(`${work}/${name}`, text);
  return `${work}/${name}`;
}

const withoutDeclaration = (xml: string) => xml.replace(/^<\?xml[^>]*\?>\s*/, "");

/** Defines and starts (paused) a VM whose devices include `interfaces`, with `metadata`. */
async function startVm(name: string, interfaces: string[], metadata = ""): Promise<void> {
  const domain = Deno.readTextFileSync(`${ROOT}tests/libvirt/domain.xml`)
    .replace("<name>sandbox-vm</name>", `<name>${name}</name>${metadata}`)
    .replace("<!-- @INTERFACES@ -->", interfaces.map(withoutDeclaration).join("\n"));
  await inside("virsh", "-q", "define", await scratchFile(`${name}.xml`, domain));
  await inside("virsh", "-q", "start", "--paused", name);
}

/** The tap device and the real Open vSwitch VLAN tag of the vNIC with `mac` in `vm`. */
async function portOf(vm: string, mac: string): Promise<{ dev: string; tag: string }> {
  const list = await inside("virsh", "-q", "domiflist", vm);
  const line = list.split("\n").find((l) => l.includes(mac));
  assert.ok(line, `${mac} is attached to ${vm}: ${list}`);
  const dev = line.trim().split(/\s+/)[0];
  return { dev, tag: (await inside("ovs-vsctl", "get", "port", dev, "tag")).trim() };
}

// Corpus vNICs as VDSM hands them to the hook. The Open vSwitch ones go through a profile
// with "No Network Filter", so they carry no <filterref>.
const noFilter = (xml: string) =>
  xml.replace(/\s*<filterref[^>]*\/>/, "").replace(/\s*<filterref[^]*?<\/filterref>/, "");
const START = noFilter(corpus("gen-hookinput-device-create-extnet-queues-qos.xml"));
const UPDATE = noFilter(corpus("gen-hookinput-update-device-started-here.xml"));
const HOTPLUG = noFilter(corpus("gen-hookinput-nic-hotplug.xml"));
const VM = "extnet-vm";

test(
  `a VM started with the hook's output lands on its Open vSwitch VLAN`,
  async () => {
    await startVm(VM, [await hooked("before_device_create", START, "ovs-net:vlan-20")]);
    assert.equal((await portOf(VM, "56:6f:1a:2b:00:01")).tag, "20");
  },
);

test(`a hot-plugged vNIC lands on its Open vSwitch VLAN`, async () => {
  const xml = await hooked("before_nic_hotplug", HOTPLUG, "ovs-net:vlan-10");
  await inside("virsh", "-q", "attach-device", VM, await scratchFile("hotplug.xml", xml), "--live");
  assert.equal((await portOf(VM, "56:6f:1a:2b:00:04")).tag, "10");
});

test(
  `live updates keep the vNIC on its port and follow a portgroup change`,
  async () => {
    const update = async (xml: string, extnetPg: string) => {
      const hookedXml = await hooked("before_update_device", xml, extnetPg);
      const file = await scratchFile("update.xml", hookedXml);
      await inside("virsh", "-q", "update-device", VM, file, "--live");
    };
    const link = async () =>
      (await inside("virsh", "-q", "domif-getlink", VM, "56:6f:1a:2b:00:01")).trim();
    await update(UPDATE, "ovs-net:vlan-20"); // link down
    assert.match(await link(), /down$/);
    assert.equal((await portOf(VM, "56:6f:1a:2b:00:01")).tag, "20");
    await update(UPDATE.replace('state="down"', 'state="up"'), "ovs-net:vlan-20");
    assert.match(await link(), /up$/);
    await update(UPDATE.replace('state="down"', 'state="up"'), "ovs-net:vlan-10");
    assert.equal((await portOf(VM, "56:6f:1a:2b:00:01")).tag, "10");
    const live = await inside("virsh", "-q", "dumpxml", VM);
    assert.match(live, /portgroup='vlan-10'/);
  },
);

/** The live `<interface>` of the vNIC with `mac` in `vm`, as `virsh dumpxml` prints it. */
async function liveInterface(vm: string, mac: string): Promise<string> {
  const xml = await inside("virsh", "-q", "dumpxml", vm);
  const found = xml.match(/<interface[^]*?<\/interface>/g)?.find((i) => i.includes(`'${mac}'`));
  assert.ok(found, `${mac} in ${vm}: ${xml}`);
  return found;
}

test(
  `the migration destination keeps a vNIC moved by a live profile change, with one line`,
  async () => {
    const xml = await liveInterface(VM, "56:6f:1a:2b:00:01");
    // VDSM's record still says vlan-20: it is saved before the update's custom properties.
    const run = await hook("before_device_migrate_destination", xml, "ovs-net:vlan-20");
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /^network-nat: vNIC 56:6f:1a:2b:00:01 runs on network ovs-net:vlan-10 \(Open vSwitch port, VLAN 10\) on the source host and keeps it here, though extnet_pg says ovs-net:vlan-20 .*restart the VM, or unplug and plug the vNIC\n$/,
    );
    assert.equal(run.xml, xml);
  },
);

test(
  `without the hook, libvirt refuses VDSM's update on Open vSwitch`,
  async () => {
    const file = await scratchFile("unhooked.xml", UPDATE);
    const run = await insideRaw(["virsh", "-q", "update-device", VM, file, "--live"]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /unable to change config on 'bridge' network type/);
  },
);

test(
  `vNICs land on Linux-bridge and NAT networks with their network filter`,
  async () => {
    const exact = corpus("vdsm-hookinput-device-create-exact.xml");
    const bridged = await hooked("before_device_create", exact, "br-net:vlan-20");
    const natted = await hooked(
      "before_device_create",
      exact.replace("00:1a:4a:16:01:12", "00:1a:4a:16:01:13").replace('slot="0x03"', 'slot="0x04"'),
      "default",
    );
    assert.doesNotMatch(bridged + natted, /<virtualport|<vlan/);
    await startVm("plain-vm", [bridged, natted]);
    const list = await inside("virsh", "-q", "domiflist", "plain-vm");
    assert.match(list, /bridge\s+br-net\s+virtio\s+00:1a:4a:16:01:12/);
    assert.match(list, /network\s+default\s+virtio\s+00:1a:4a:16:01:13/);
    const live = await inside("virsh", "-q", "dumpxml", "plain-vm");
    assert.equal(live.match(/<filterref filter='vdsm-no-mac-spoofing'/g)?.length, 2);
  },
);

test(
  `the hook refuses, with its own message, what libvirt would get wrong`,
  async () => {
    const cases: [string, string, string, RegExp][] = [
      [
        "before_device_create",
        HOTPLUG,
        "ovs-net:vlan-2",
        /has no portgroup 'vlan-2' \(it has: vlan-10, vlan-20\)/,
      ],
      ["before_nic_hotplug", HOTPLUG, "no-such-net", /'no-such-net' does not exist on this host/],
      ["before_device_create", HOTPLUG, "off-net", /'off-net' is not active/],
      [
        "before_device_create",
        corpus("gen-hookinput-nic-hotplug.xml"),
        "ovs-net:vlan-20",
        /network filter on Open vSwitch network 'ovs-net'/,
      ],
      [
        "before_nic_hotplug",
        corpus("vdsm-bridge-port-isolated.xml").replace(/<filterref[^>]*>/, ""),
        "ovs-net:vlan-20",
        /cannot isolate ports/,
      ],
      [
        "before_device_migrate_destination",
        corpus("gen-hookinput-device-migrate-destination.xml")
          .replace('network="ovs-net" portgroup="vlan-20"', 'network="off-net"'),
        "off-net",
        /'off-net' is not active/,
      ],
    ];
    for (const [point, xml, extnetPg, reason] of cases) {
      const run = await hook(point, xml, extnetPg);
      assert.equal(run.code, 2, `${extnetPg}: ${run.stderr}`);
      assert.match(run.stderr, /^network-nat: [^\n]+\n$/);
      assert.match(run.stderr, reason);
      assert.equal(run.xml, xml, "file untouched");
    }
  },
);

test(`the migration destination accepts a network it has`, async () => {
  const xml = corpus("gen-hookinput-device-migrate-destination.xml");
  const run = await hook("before_device_migrate_destination", xml, "ovs-net:vlan-20");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.xml, xml);
});

test(
  `doctor names the running vNICs that are not where their profile says`,
  async () => {
    const { work } = await startSandbox();
    // A VM started before the hook was installed keeps its vNIC on the oVirt bridge.
    await inside("ip", "link", "add", "ovirtmgmt", "type", "bridge");
    await inside("ip", "link", "set", "ovirtmgmt", "up");
    const redirected = START.replaceAll("56:6f:1a:2b:00:01", "56:6f:1a:2b:00:21")
      .replaceAll("11111111-1111-4111-8111-111111111111", "21212121-2121-4121-8121-212121212121");
    const device = (mac: string) =>
      `<ovirt-vm:device mac_address="${mac}"><ovirt-vm:network>ovirtmgmt</ovirt-vm:network>` +
      "<ovirt-vm:custom><ovirt-vm:extnet_pg>ovs-net:vlan-20</ovirt-vm:extnet_pg>" +
      "</ovirt-vm:custom></ovirt-vm:device>";
    const exact = corpus("vdsm-hookinput-device-create-exact.xml");
    // On a Linux-bridge network, a failed live update ends with VDSM's rollback: the un-hooked
    // XML, which moves the tap onto the oVirt bridge (VDSM's record keeps the old extnet_pg).
    const rolledBack = exact.replace("00:1a:4a:16:01:12", "00:1a:4a:16:01:13")
      .replace('slot="0x03"', 'slot="0x05"');
    await startVm(
      "doctor-vm",
      [
        await hooked("before_device_create", redirected, "ovs-net:vlan-20"),
        exact.replace('slot="0x03"', 'slot="0x04"'),
        await hooked("before_device_create", rolledBack, "br-net:vlan-20"),
      ],
      '<metadata><ovirt-vm:vm xmlns:ovirt-vm="http://ovirt.org/vm/1.0">' +
        device("56:6f:1a:2b:00:21") + device("00:1a:4a:16:01:12") +
        device("00:1a:4a:16:01:13").replace("ovs-net:vlan-20", "br-net:vlan-20") +
        "</ovirt-vm:vm></metadata>",
    );
    const rollback = await scratchFile("rollback.xml", rolledBack);
    await inside("virsh", "-q", "update-device", "doctor-vm", rollback, "--live");
    const run = await insideRaw(
      [
        "deno",
        "task",
        "-q",
        "--config",
        `${ROOT}deno.json`,
        "doctor",
        "--json",
        "--hooks-dir",
        `${work}/hooks`,
      ],
      { HOME: `${work}/home` },
    );
    const report = JSON.parse(run.stdout);
    assert.deepEqual(
      report.findings.filter((f: { check: string }) => f.check === "vnic"),
      [{
        check: "vnic",
        status: "warn",
        message: "VM doctor-vm: vNIC 00:1a:4a:16:01:12 runs on bridge ovirtmgmt, extnet_pg says " +
          "ovs-net:vlan-20",
        fix: "restart the VM, or unplug and plug the vNIC, so that the hook redirects it (if the " +
          "vNIC profile's extnet_pg says otherwise now, VDSM's record is one live update behind: " +
          "nothing to do)",
      }, {
        check: "vnic",
        status: "warn",
        message: "VM doctor-vm: vNIC 00:1a:4a:16:01:13 runs on bridge ovirtmgmt, extnet_pg says " +
          "br-net:vlan-20",
        fix: report.findings.find((f: { check: string }) => f.check === "vnic").fix,
      }],
      run.stderr,
    );
    assert.deepEqual(
      report.vnics.map((v: Record<string, string>) => [v.vm, v.mac, v.runsOn, v.status]),
      [
        [
          "doctor-vm",
          "56:6f:1a:2b:00:21",
          "network ovs-net:vlan-20 (Open vSwitch port, VLAN 20)",
          "ok",
        ],
        ["doctor-vm", "00:1a:4a:16:01:12", "bridge ovirtmgmt", "warn"],
        ["doctor-vm", "00:1a:4a:16:01:13", "bridge ovirtmgmt", "warn"],
      ],
    );
  },
);

/**
 * Asks libvirt inside the sandbox, as `user`, over the socket (host/libvirt.ts) and with virsh
 * (host/virsh.ts), for each of `names`; `deadlineMs` bounds the socket's answer.
 */
async function askBothWays(names: string[], user?: number, deadlineMs = 30000) {
  const { work } = await startSandbox();
  const script = `
    const checkout = ${JSON.stringify(readableCheckout())};
    const socket = await import(\`file://\${checkout}host/libvirt.ts\`);
    const virsh = await import(\`file://\${checkout}host/virsh.ts\`);
    const answer = (p) => p.then((value) => ({ value }), (e) => ({ error: \`\${e.name}: \${e.message}\` }));
    const out = {};
    for (const name of ${JSON.stringify(names)}) {
      out[name] = {
        socket: await answer(socket.lookupNetwork(name, "qemu:///system", undefined,
          { socket: socket.systemSocket("qemu:///system"), deadlineMs: ${deadlineMs} })),
        virsh: await answer(virsh.lookupNetwork(name, "qemu:///system")),
      };
    }
    console.log(JSON.stringify(out));`;
  const run = await insideRaw(
    ["deno", "eval", "--no-config", script],
    { HOME: `${work}/home` },
    user,
  );
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, { socket: unknown; virsh: unknown }>;
}

test(
  `libvirt's socket gives the same answers as virsh, as root and as another user`,
  async () => {
    // A UTF-8 name: libvirt allows it, though extnet_pg cannot name it.
    const utf8 = "r\u00e9seau-\u00fc";
    await inside(
      "virsh",
      "-q",
      "net-define",
      await scratchFile(
        "utf8-net.xml",
        `<network><name>${utf8}</name><bridge name='utf8br0'/></network>`,
      ),
    );
    const names = ["ovs-net", "off-net", "br-net", utf8, "no-such-net"];
    await inside("sh", "-c", ": >/var/log/libvirt/libvirtd.log");
    for (const user of [undefined, NOBODY]) {
      const answers = await askBothWays(names, user);
      for (const name of names) {
        assert.deepEqual(answers[name].socket, answers[name].virsh, `${name} as ${user ?? "root"}`);
      }
      assert.match(
        JSON.stringify(answers["no-such-net"].socket),
        /NetworkNotFound: libvirt network 'no-such-net' does not exist/,
      );
      assert.equal(
        (answers["ovs-net"].socket as { value: { kind: string } }).value.kind,
        "Open vSwitch",
      );
    }
    // Every connection was closed with CONNECT_CLOSE: libvirtd logs any other close as an error.
    assert.doesNotMatch(await inside("cat", "/var/log/libvirt/libvirtd.log"), /End of file/);
  },
);

test(
  `the running VMs' live XML comes over the socket as virsh dumpxml prints it`,
  async () => {
    await startVm("listed-vm", []);
    const { work } = await startSandbox();
    const script = `
      const { runningDomains } = await import(${
      JSON.stringify(`file://${readableCheckout()}host/libvirt.ts`)
    });
      console.log(JSON.stringify(await runningDomains()));`;
    const run = await insideRaw(["deno", "eval", "--no-config", script], { HOME: `${work}/home` });
    assert.equal(run.code, 0, run.stderr);
    const domains: { name: string; xml: string }[] = JSON.parse(run.stdout);
    const names = (await inside("virsh", "-r", "list", "--name")).trim().split("\n").sort();
    assert.deepEqual(domains.map((domain) => domain.name).sort(), names);
    assert.ok(names.includes("listed-vm"));
    for (const { name, xml } of domains) {
      assert.equal(`${xml}\n`, await inside("virsh", "-r", "dumpxml", name), name);
    }
    await inside("virsh", "-q", "destroy", "listed-vm");
  },
);

test(`a stopped libvirtd is bounded by the deadline`, async () => {
  await inside("sh", "-c", "kill -STOP $(cat /run/libvirtd.pid)");
  try {
    const started = performance.now();
    const answers = await askBothWays(["ovs-net"], NOBODY, 500).catch((error) => error);
    assert.ok(!(answers instanceof Error), String(answers));
    assert.match(
      JSON.stringify(answers["ovs-net"].socket),
      /libvirt at \/run\/libvirt\/libvirt-sock-ro accepted the connection but did not answer within 500 ms/,
    );
    assert.ok(performance.now() - started < 60000);
  } finally {
    await inside("sh", "-c", "kill -CONT $(cat /run/libvirtd.pid)");
  }
});

/**
 * In a second sandbox, whose libvirtd asks for `auth` on its read-only socket, runs as user
 * nobody the hook at before_nic_hotplug with extnet_pg=br-net, then `script` with deno eval;
 * returns what they printed, the hook's exit code after it.
 */
async function inSandboxWithAuth(auth: string, script: string): Promise<string> {
  const { work } = await startSandbox();
  const file = Deno.makeTempFileSync({ dir: `${work}/tmp`, prefix: "hook_domxml-" });
  Deno.writeTextFileSync(file, HOTPLUG);
  Deno.chownSync(file, NOBODY, NOBODY);
  Deno.writeTextFileSync(`${work}/tmp/ask.js`, script);
  const asNobody = `setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups -- env ` +
    `-u LIBVIRT_DEFAULT_URI HOME=${work}/home`;
  const output = await new Deno.Command(SANDBOX, {
    args: [
      "sh",
      "-c",
      `${asNobody} _hook_domxml=${file} extnet_pg=br-net ` +
      `${work}/hooks/before_nic_hotplug/50_network_nat 2>&1; echo "exit $?"; ` +
      `${asNobody} deno run -A --no-config ${work}/tmp/ask.js </dev/null`,
    ],
    env: { SANDBOX_AUTH_UNIX_RO: auth },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  Deno.removeSync(file);
  assert.equal(output.code, 0, text);
  return text;
}

const libvirtModule = () => JSON.stringify(`file://${readableCheckout()}host/libvirt.ts`);

test(
  `SASL on the read-only socket: the hook says so; tools that may run virsh ask it`,
  async () => {
    const text = await inSandboxWithAuth(
      "sasl",
      `const { lookupNetwork } = await import(${libvirtModule()});
      await lookupNetwork("br-net", "qemu:///system").catch((e) => console.log(e.message));`,
    );
    assert.match(
      text,
      /^network-nat: cannot check libvirt network 'br-net': libvirt at \/run\/libvirt\/libvirt-sock-ro asks for SASL on its read-only socket, which the hook does not speak; set auth_unix_ro = "polkit" in libvirtd.conf \(libvirt's default\)\nexit 2$/m,
    );
    // With --allow-run=virsh: virsh's own answer, as before the socket was used.
    assert.match(
      text,
      /^cannot check libvirt network 'br-net' at qemu:\/\/\/system: failed to connect to the hypervisor: authentication failed: .*SASL.*$/m,
    );
  },
);

test(
  `through polkit, another user gets the same answers as virsh, and the hook redirects`,
  async () => {
    const text = await inSandboxWithAuth(
      "polkit",
      `const socket = await import(${libvirtModule()});
      const virsh = await import(${JSON.stringify(`file://${readableCheckout()}host/virsh.ts`)});
      const answer = (p) => p.then((v) => JSON.stringify(v), (e) => \`\${e.name}: \${e.message}\`);
      for (const name of ["ovs-net", "off-net", "no-such-net"]) {
        const [a, b] = [await answer(socket.lookupNetwork(name, "qemu:///system")),
          await answer(virsh.lookupNetwork(name, "qemu:///system"))];
        console.log(a === b ? \`same \${name}\` : \`differ \${name}: \${a} vs \${b}\`);
      }`,
    );
    assert.match(text, /^network-nat: vNIC .* -> network br-net \(Linux bridge\)\nexit 0$/m);
    assert.match(text, /^same ovs-net\nsame off-net\nsame no-such-net$/m);
  },
);

test(
  `the installer proves the hook's user reaches libvirt's socket`,
  async () => {
    const { work } = await startSandbox();
    const hooks = `${work}/install-hooks`;
    Deno.mkdirSync(hooks);
    const run = await insideRaw(
      [
        "deno",
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-sys=uid",
        "--allow-env=INIT_CWD",
        `${readableCheckout()}install.ts`,
        `--hooks-dir=${hooks}`,
        "--user=nobody",
        `--service-path=${Deno.execPath().replace(/\/deno$/, "")}:/usr/sbin:/usr/bin:/sbin:/bin`,
      ],
      { HOME: `${work}/home` },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^ok {8}user nobody reaches libvirt at \/run\/libvirt\/libvirt-sock-ro: the hook asks it without virsh \(\d+ ms\)$/m,
    );
  },
);

test(`the sandbox stops, leaving nothing behind`, async () => {
  const { process } = await startSandbox();
  await process.stdin.close();
  assert.equal((await process.status).code, 0);
  const { stdout } = await new Deno.Command("ip", { args: ["-o", "link", "show"] }).output();
  assert.doesNotMatch(new TextDecoder().decode(stdout), /ovsbr0|brnet0|virbr0|vnet\d/);
});
