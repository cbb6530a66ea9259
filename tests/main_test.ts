/**
 * The hook run as a process the way VDSM runs it: through a link in a hook
 * point directory, from cwd `/`, stdin `/dev/null`, the device XML in a 0600
 * temp file named by `_hook_domxml`, and (as root) as an unprivileged user
 * with no network.
 */

import assert from "node:assert/strict";
import { HOOK_POINTS } from "../lib/hook.ts";
import {
  assertRewritten,
  copyCheckout,
  corpus,
  live,
  readableCheckout,
  TEST_NETWORKS_URI,
  withVirsh,
} from "./helpers.ts";

const IS_ROOT = Deno.uid() === 0;
// As root the hook runs as nobody, so it runs from a copy that nobody can read.
const CHECKOUT = readableCheckout();
const NOBODY = 65534;
const DENO_DIR = Deno.execPath().replace(/\/[^/]+$/, "");
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

interface HookRun {
  code: number;
  stdout: string;
  stderr: string;
  xml: string;
  leftovers: string[];
}

/** Installs links to main.ts in a temp hooks tree and returns the tree and a scratch dir. */
function hooksTree(): { hooks: string; scratch: string } {
  const base = Deno.makeTempDirSync({ prefix: "network-nat-test-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(base, { recursive: true }));
  Deno.chmodSync(base, 0o755);
  for (const point of HOOK_POINTS) {
    Deno.mkdirSync(`${base}/hooks/${point}`, { recursive: true });
    Deno.symlinkSync(`${CHECKOUT}main.ts`, `${base}/hooks/${point}/50_network_nat`);
  }
  const scratch = `${base}/tmp`;
  Deno.mkdirSync(scratch);
  Deno.mkdirSync(`${base}/home`);
  if (IS_ROOT) {
    Deno.chownSync(scratch, NOBODY, NOBODY);
    Deno.chownSync(`${base}/home`, NOBODY, NOBODY);
  }
  return { hooks: `${base}/hooks`, scratch };
}

const tree = hooksTree();

/** Runs the installed hook of `point` on `xml` with `env` added to VDSM's environment. */
async function runInstalledHook(
  point: string,
  xml: string,
  env: Record<string, string>,
  options: { path?: string | null; command?: string[] } = {},
): Promise<HookRun> {
  const file = Deno.makeTempFileSync({ dir: tree.scratch, prefix: "hook_domxml-" });
  Deno.writeTextFileSync(file, xml);
  Deno.chmodSync(file, 0o600);
  if (IS_ROOT) Deno.chownSync(file, NOBODY, NOBODY);
  const script = `${tree.hooks}/${point}/50_network_nat`;
  const drop = IS_ROOT
    ? [
      "/usr/bin/unshare",
      "--net",
      "/usr/bin/setpriv",
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "--",
    ]
    : [];
  const [command, ...args] = [...drop, ...(options.command ?? [script])];
  const output = await new Deno.Command(command, {
    args,
    cwd: "/",
    stdin: "null",
    clearEnv: true,
    signal: AbortSignal.timeout(60_000),
    env: {
      ...(options.path === null ? {} : { PATH: options.path ?? `${SYSTEM_PATH}:${DENO_DIR}` }),
      HOME: `${tree.scratch}/../home`,
      TMPDIR: tree.scratch,
      LIBVIRT_DEFAULT_URI: TEST_NETWORKS_URI,
      _hook_domxml: file,
      vmId: "a1b2c3d4-0000-4000-8000-000000000001",
      ...env,
    },
  }).output();
  const result = {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
    xml: Deno.readTextFileSync(file),
    leftovers: [...Deno.readDirSync(tree.scratch)].map((e) => e.name)
      .filter((name) => !name.startsWith("hook_domxml-")),
  };
  assert.equal(Deno.statSync(file).mode! & 0o777, 0o600, "the file keeps mode 0600");
  Deno.removeSync(file);
  return result;
}

function assertRefused(run: HookRun, input: string, reason: RegExp): void {
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /^network-nat: [\x20-\x7e]+\n$/, "exactly one ASCII line");
  assert.match(run.stderr, reason);
  assert.equal(run.xml, input, "the file is untouched");
}

Deno.test("without extnet_pg exits 0 at once, the file untouched, even with no deno on PATH", async () => {
  const input = corpus("gen-hookinput-device-create-no-property.xml");
  for (const point of HOOK_POINTS) {
    const run = await runInstalledHook(point, input, { foo: "bar" }, { path: "/nonexistent" });
    assert.deepEqual([run.code, run.stdout, run.stderr, run.xml], [0, "", "", input]);
  }
});

withVirsh.test("redirects a vNIC at VM start, hot-plug and update through the hook links", async () => {
  const cases: [string, string][] = [
    ["before_device_create", "gen-hookinput-device-create-extnet-queues-qos.xml"],
    ["before_nic_hotplug", "gen-hookinput-nic-hotplug.xml"],
    ["before_update_device", "gen-hookinput-update-device-started-here.xml"],
  ];
  for (const [point, file] of cases) {
    const input = corpus(file);
    const run = await runInstalledHook(point, input, {
      extnet_pg: "br-net:vlan-20",
      foo: "bar",
      queues: "4",
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /^network-nat: vNIC 56:6f:1a:2b:00:0\d -> network br-net:vlan-20 \(Linux bridge\)\n$/,
    );
    assertRewritten(input, run.xml, { network: "br-net", portgroup: "vlan-20" });
    assert.deepEqual(run.leftovers, [], "no temp file left behind");
  }
});

withVirsh.test("adds the Open vSwitch port id and VLAN when the target network is Open vSwitch", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml").replace(/<filterref[^>]*>/, "");
  const run = await runInstalledHook("before_nic_hotplug", input, { extnet_pg: "ovs-net:vlan-20" });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.xml,
    /<source network="ovs-net" portgroup="vlan-20" \/><vlan><tag id="20"\/><\/vlan><virtualport type="openvswitch"><parameters interfaceid="44444444-4444-4444-8444-444444444444"\/><\/virtualport>/,
  );
});

withVirsh.test("refuses with exit 2 and one line, leaving the file untouched", async () => {
  const hotplug = corpus("gen-hookinput-nic-hotplug.xml");
  const cases: [string, string, Record<string, string>, RegExp][] = [
    ["before_device_create", hotplug, { extnet_pg: "ovs-net:vlan-2" }, /no portgroup 'vlan-2'/],
    [
      "before_nic_hotplug",
      hotplug,
      { extnet_pg: "nosuch-net" },
      /'nosuch-net' does not exist on this host/,
    ],
    ["before_device_create", hotplug, { extnet_pg: "ovs-net:vlan-20" }, /network filter/],
    [
      "before_device_create",
      hotplug,
      { extnet_pg: "a:b:c" },
      /is not NETWORK or NETWORK:PORTGROUP/,
    ],
    ["before_device_create", hotplug, { extnet_pg: "" }, /extnet_pg="" is not/],
    ["before_device_create", hotplug, { extnet_pg: "br-net", _hook_domxml: "" }, /_hook_domxml/],
    [
      "before_device_create",
      corpus("vdsm-sriov-hostdev-basic.xml"),
      { extnet_pg: "br-net" },
      /hostdev/,
    ],
    ["before_device_create", "<interface", { extnet_pg: "br-net" }, /not well-formed/],
    [
      "before_device_create",
      hotplug,
      { extnet_pg: "br-net", provider_type: "EXTERNAL_NETWORK" },
      /provider/,
    ],
    [
      "before_device_migrate_destination",
      corpus("gen-hookinput-device-migrate-destination.xml").replace("vlan-20", "vlan-30"),
      { extnet_pg: "ovs-net:vlan-30" },
      /no portgroup 'vlan-30'/,
    ],
  ];
  for (const [point, input, env, reason] of cases) {
    assertRefused(await runInstalledHook(point, input, env), input, reason);
  }
});

Deno.test("refuses a device file that is not UTF-8", async () => {
  const input = "<interface type='bridge'><source bridge='\xe9'/></interface>";
  const file = Deno.makeTempFileSync({ dir: tree.scratch, prefix: "hook_domxml-" });
  try {
    Deno.writeFileSync(file, Uint8Array.from(input, (c) => c.charCodeAt(0)));
    const output = await new Deno.Command(`${tree.hooks}/before_device_create/50_network_nat`, {
      cwd: "/",
      stdin: "null",
      env: { _hook_domxml: file, extnet_pg: "br-net", LIBVIRT_DEFAULT_URI: TEST_NETWORKS_URI },
    }).output();
    assert.equal(output.code, 2);
    assert.match(new TextDecoder().decode(output.stderr), /^network-nat: .* is not valid UTF-8\n$/);
  } finally {
    Deno.removeSync(file);
  }
});

withVirsh.test("at the migration destination checks the network and leaves the file as it is", async () => {
  const input = corpus("gen-hookinput-device-migrate-destination.xml");
  const run = await runInstalledHook("before_device_migrate_destination", input, {
    extnet_pg: "ovs-net:vlan-20",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.xml, input);
  assert.match(run.stderr, /is ready on this host/);
});

Deno.test("says clearly when deno is not on VDSM's PATH", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const run = await runInstalledHook("before_nic_hotplug", input, { extnet_pg: "br-net" }, {
    path: "/nonexistent",
  });
  assertRefused(run, input, /deno is not on PATH \(\/nonexistent\); install Deno 2/);
});

/** A directory holding a fake `virsh` running `script`, for PATH. */
function fakeVirshPath(name: string, script: string): string {
  const fake = `${tree.scratch}/../${name}`;
  Deno.mkdirSync(fake, { recursive: true });
  Deno.writeTextFileSync(`${fake}/virsh`, `#!/bin/sh\n${script}`, { mode: 0o755 });
  return `${fake}:${SYSTEM_PATH}:${DENO_DIR}`;
}

Deno.test("waits for a libvirt that answers slowly, as on a host starting many VMs", async () => {
  // The bound counts from virsh's start, and is long enough for a host short of CPU.
  const path = fakeVirshPath("fake-bin-slow", `sleep 6\nexec /usr/bin/virsh "$@"\n`);
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const run = await runInstalledHook("before_nic_hotplug", input, { extnet_pg: "br-net" }, {
    path,
  });
  assert.equal(run.code, 0, run.stderr);
  assertRewritten(input, run.xml, { network: "br-net" });
});

Deno.test("refuses a device file VDSM never writes at once, saying what it is", async () => {
  const fifo = `${tree.scratch}/fifo`;
  new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  if (IS_ROOT) Deno.chownSync(fifo, NOBODY, NOBODY);
  const big = `${tree.scratch}/big.xml`;
  Deno.writeTextFileSync(big, `<interface>${" ".repeat(2 * 1024 * 1024)}</interface>`);
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const cases: [string, RegExp][] = [
    [fifo, /fifo \(_hook_domxml\) is a FIFO, not a regular file as VDSM writes/],
    ["/dev/zero", /is a character device, not a regular file/],
    [big, /has 2097175 bytes or more, over the 1048576 a device XML may have/],
    [tree.scratch, /is a directory, not a regular file/],
    [`${tree.scratch}/gone`, /gone \(_hook_domxml\) does not exist/],
  ];
  try {
    for (const [file, reason] of cases) {
      const started = Date.now();
      const run = await runInstalledHook("before_device_create", input, {
        extnet_pg: "br-net",
        _hook_domxml: file,
      });
      assertRefused(run, input, reason);
      assert.doesNotMatch(run.stderr, /unexpected error/);
      assert.ok(Date.now() - started < 20_000);
    }
  } finally {
    Deno.removeSync(fifo);
    Deno.removeSync(big);
  }
});

Deno.test("keeps its exit code when stderr cannot be written", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const script = (
    point: string,
  ) => ["/bin/sh", "-c", 'exec "$0" 2>/dev/full', `${tree.hooks}/${point}/50_network_nat`];
  const done = await runInstalledHook("before_nic_hotplug", input, { extnet_pg: "br-net" }, {
    command: script("before_nic_hotplug"),
  });
  assert.equal(done.code, 0);
  assertRewritten(input, done.xml, { network: "br-net" });
  const refused = await runInstalledHook("before_nic_hotplug", input, { extnet_pg: "a:b:c" }, {
    command: script("before_nic_hotplug"),
  });
  assert.deepEqual([refused.code, refused.xml], [2, input]);
});

Deno.test("does not depend on DENO_* variables or PATH from VDSM's environment", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const cases: [Record<string, string>, string | null | undefined][] = [
    [{ DENO_V8_FLAGS: "--max-old-space-size=1" }, undefined],
    [{ DENO_AUTH_TOKENS: "x" }, undefined],
    [{ DENO_COVERAGE_DIR: `${tree.scratch}/coverage`, DENO_CERT: "/nonexistent" }, undefined],
    [{ FORCE_COLOR: "1", RUST_LOG: "trace", DENO_TRACE_PERMISSIONS: "1" }, undefined],
    [{}, null], // no PATH at all: the shell's default finds deno and virsh in /usr/bin
  ];
  for (const [env, path] of cases) {
    const run = await runInstalledHook(
      "before_nic_hotplug",
      input,
      { extnet_pg: "br-net", ...env },
      {
        path,
      },
    );
    assert.equal(run.code, 0, `${JSON.stringify(env)}: ${run.stderr}`);
    assert.match(
      run.stderr,
      /^network-nat: vNIC 56:6f:1a:2b:00:04 -> network br-net \(Linux bridge\)\n$/,
    );
    assertRewritten(input, run.xml, { network: "br-net" });
  }
});

Deno.test("at a live update rewrites unchecked when virsh answers garbage", async () => {
  const path = fakeVirshPath("fake-bin-garbage", "echo 'Segmentation fault'\nexit 0\n");
  const input = corpus("gen-hookinput-update-device-started-here.xml");
  const run = await runInstalledHook("before_update_device", input, { extnet_pg: "br-net" }, {
    path,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /\(not checked: virsh printed no network XML/);
  assertRewritten(input, run.xml, { network: "br-net" });
  const start = await runInstalledHook("before_device_create", input, { extnet_pg: "br-net" }, {
    path,
  });
  assertRefused(start, input, /virsh printed no network XML; cannot check the network/);
});

Deno.test("at a live update still refuses a network libvirt says does not exist", async () => {
  const fake = `${tree.scratch}/../fake-bin-missing`;
  Deno.mkdirSync(fake, { recursive: true });
  // virsh's English answer only under LC_ALL=C, as on a host with another locale.
  Deno.writeTextFileSync(
    `${fake}/virsh`,
    '#!/bin/sh\nif [ "$LC_ALL" = C ]; then\n' +
      "  echo \"error: failed to get network 'gone'\" >&2\n" +
      "  echo \"error: Network not found: no network with matching name 'gone'\" >&2\n" +
      "else\n  echo 'erreur : réseau introuvable' >&2\nfi\nexit 1\n",
    { mode: 0o755 },
  );
  const input = corpus("gen-hookinput-update-device-started-here.xml");
  const run = await runInstalledHook("before_update_device", input, { extnet_pg: "gone" }, {
    path: `${fake}:${SYSTEM_PATH}:${DENO_DIR}`,
  });
  assertRefused(run, input, /libvirt network 'gone' does not exist on this host/);
});

withVirsh.test("runs as 'deno run' with explicit permissions, and says which one is missing", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const deno = ["deno", "run", "--allow-env", "--allow-read", "--allow-write"];
  const ok = await runInstalledHook("", input, { extnet_pg: "br-net" }, {
    command: [...deno, "--allow-run=virsh", `${CHECKOUT}main.ts`],
  });
  assert.equal(ok.code, 0, ok.stderr);
  assertRewritten(input, ok.xml, { network: "br-net" });
  const noRun = await runInstalledHook("", input, { extnet_pg: "br-net" }, {
    command: [...deno, "--no-prompt", `${CHECKOUT}main.ts`],
  });
  assertRefused(noRun, input, /may not run virsh \(start it with --allow-run=virsh\)/);
  const noProperty = await runInstalledHook("", input, {}, {
    command: [...deno, `${CHECKOUT}main.ts`],
  });
  assert.deepEqual([noProperty.code, noProperty.stdout, noProperty.stderr, noProperty.xml], [
    0,
    "",
    "",
    input,
  ]);
});

Deno.test("a broken installation still exits 2 with one line, the file untouched", async () => {
  const base = Deno.makeTempDirSync({ prefix: "network-nat-broken-" });
  try {
    copyCheckout(`${base}/checkout`);
    Deno.removeSync(`${base}/checkout/lib/interface.ts`);
    Deno.mkdirSync(`${base}/before_nic_hotplug`);
    Deno.symlinkSync(`${base}/checkout/main.ts`, `${base}/before_nic_hotplug/50_network_nat`);
    const input = corpus("gen-hookinput-nic-hotplug.xml");
    Deno.writeTextFileSync(`${base}/domxml`, input);
    const output = await new Deno.Command(`${base}/before_nic_hotplug/50_network_nat`, {
      cwd: "/",
      stdin: "null",
      env: { _hook_domxml: `${base}/domxml`, extnet_pg: "br-net" },
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2);
    assert.match(
      stderr,
      /^network-nat: unexpected error, nothing was changed: .*interface\.ts.*\n$/,
    );
    assert.equal(Deno.readTextFileSync(`${base}/domxml`), input);
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});

/** A test-driver node file with the sample networks changed by `change`: another host's libvirt. */
function otherHost(name: string, change: (networks: string) => string): string {
  const file = `${tree.hooks}/../${name}.xml`;
  const networks = Deno.readTextFileSync(`${CHECKOUT}samples/networks.xml`);
  const changed = change(networks);
  assert.notEqual(changed, networks, `${name} changes something`);
  Deno.writeTextFileSync(file, changed, { mode: 0o644 });
  return `test://${file}`;
}

withVirsh.test("at the migration destination keeps what the migration cannot change, with one log line", async () => {
  // Live XML captured from a real libvirtd (tests/fixtures/live), and extnet_pg as VDSM's record.
  const cases: [string, string, RegExp][] = [
    ["started-ovs-net-vlan-20.xml", "ovs-net:vlan-20", /ovs-net:vlan-20 .* is ready on this host/],
    ["started-br-net-vlan-20.xml", "br-net:vlan-20", /br-net:vlan-20 .* is ready on this host/],
    ["started-default.xml", "default", /network default \(NAT\) is ready on this host/],
    [
      "updated-ovs-net-vlan-10.xml",
      "ovs-net:vlan-20",
      /runs on network ovs-net:vlan-10 .* keeps it here, though extnet_pg says ovs-net:vlan-20 .*restart the VM, or unplug and plug the vNIC/,
    ],
    [
      "started-bridge-ovirtmgmt.xml",
      "ovs-net:vlan-20",
      /runs on bridge ovirtmgmt on the source host and keeps it here, though extnet_pg says ovs-net:vlan-20; to redirect it, restart the VM/,
    ],
  ];
  for (const [file, extnetPg, line] of cases) {
    const input = live(file);
    const run = await runInstalledHook("before_device_migrate_destination", input, {
      extnet_pg: extnetPg,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^network-nat: [\x20-\x7e]+\n$/, "exactly one ASCII line");
    assert.match(run.stderr, line, file);
    assert.equal(run.xml, input, "the file is untouched");
  }
});

withVirsh.test("at the migration destination refuses when this host cannot give the vNIC its port", async () => {
  const vlan20 = "<portgroup name='vlan-20'>\n      <vlan><tag id='20'/></vlan>\n    </portgroup>";
  // [live capture, this host's libvirt, the refusal]
  const cases: [string, string, RegExp][] = [
    [
      "started-ovs-net-vlan-20.xml",
      otherHost("no-ovs-net", (n) => n.replace(/<network>\s*<name>ovs-net<[^]*?<\/network>/, "")),
      /^network-nat: vNIC 56:6f:1a:2b:00:01 runs on network ovs-net:vlan-20 \(Open vSwitch port, VLAN 20\) on the source host, and this host has no network 'ovs-net'; define network 'ovs-net' the same on every host\n$/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      otherHost("no-vlan-20", (n) => n.replace(vlan20, "")),
      /but here network 'ovs-net' has no portgroup 'vlan-20' \(it has: vlan-10, trunk\)/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      otherHost("vlan-20-is-30", (n) => n.replace(vlan20, vlan20.replace("'20'", "'30'"))),
      /but here portgroup 'vlan-20' of network 'ovs-net' gives VLAN 30, the port carries VLAN 20/,
    ],
    [
      // The stale-metadata vNIC is checked on the portgroup it runs on, not extnet_pg's.
      "updated-ovs-net-vlan-10.xml",
      otherHost(
        "vlan-10-is-11",
        (n) => n.replace("<tag id='10'/></vlan>", "<tag id='11'/></vlan>"),
      ),
      /portgroup 'vlan-10' of network 'ovs-net' gives VLAN 11, the port carries VLAN 10/,
    ],
    [
      "started-br-net-vlan-20.xml",
      otherHost("br-net-on-ovs", (n) =>
        n.replace(
          "<bridge name='brnet0'/>",
          "<bridge name='brnet0'/>\n    <virtualport type='openvswitch'/>",
        )),
      /but here network 'br-net' is Open vSwitch, the port is not an Open vSwitch port/,
    ],
    [
      "started-ovs-net-vlan-20.xml",
      "qemu:///system?socket=/nonexistent/libvirt-sock",
      /on the source host; cannot check that this host gives it the same port: cannot check libvirt network 'ovs-net'/,
    ],
  ];
  for (const [file, uri, reason] of cases) {
    const input = live(file);
    const run = await runInstalledHook("before_device_migrate_destination", input, {
      extnet_pg: "ovs-net:vlan-20",
      LIBVIRT_DEFAULT_URI: uri,
    });
    assertRefused(run, input, reason);
  }
});
