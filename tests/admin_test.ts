/**
 * admin.ts run as a process, with the permissions of its deno.json tasks:
 * help, happy paths, refusals and exit codes of preview, doctor and engine-config.
 */

import assert from "node:assert/strict";
import { HOOK_POINTS } from "../lib/hook.ts";
import { parseEngineConfigOutput, planExtnetPg, renderCommands } from "../admin/engine_config.ts";
import { PROPERTY_REGEX as EXTNET_PG_REGEX } from "../lib/property.ts";
import { HOOK_NAME, SYSTEMD_PATH } from "../admin/install_plan.ts";
import {
  copyCheckout,
  corpus,
  missingCommands,
  needing,
  readableCheckout,
  ROOT,
  TEST_NETWORKS_URI,
  VIRSH_MISSING,
  withVirsh,
} from "./helpers.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const TASKS: Record<string, string> = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
const DENO_BIN_DIR = Deno.execPath().replace(/\/[^/]+$/, "");

/** Runs `deno task NAME ARGS...` the way deno task would, with the task's own permissions. */
async function task(
  name: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const [deno, ...words] = TASKS[name].split(" ");
  assert.equal(deno, "deno");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...words, ...args],
    cwd: ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { LIBVIRT_DEFAULT_URI: TEST_NETWORKS_URI, NO_COLOR: "", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

function assertOneLine(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, run.stderr);
  assert.match(run.stderr, /^[\x20-\x7e]+\n$/, `one ASCII line: ${JSON.stringify(run.stderr)}`);
  assert.match(run.stderr, pattern);
}

function fixture(name: string): string {
  return `${ROOT}tests/fixtures/corpus/${name}`;
}

// ---- the command itself

Deno.test("admin.ts --help lists the commands; an unknown command is a usage error", async () => {
  const [deno, ...words] = TASKS["engine-config"].split(" ");
  assert.equal(deno, "deno");
  const base = words.slice(0, words.indexOf("admin.ts") + 1);
  const run = async (args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), { args: [...base, ...args], cwd: ROOT })
      .output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  };
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /preview .*\n.*doctor .*\n.*engine-config /);
  assertOneLine(await run(["frobnicate"]), 2, /^network-nat: unknown command frobnicate:/);
  assertOneLine(await run([]), 2, /^network-nat: no command:/);
});

Deno.test("every task has --help with its exit codes, on stdout, exit 0", async () => {
  for (const name of ["preview", "doctor", "engine-config"]) {
    for (const flag of ["--help", "-h"]) {
      const run = await task(name, [flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, "");
      assert.match(run.stdout, new RegExp(`^Usage: deno task ${name}`));
      assert.ok(run.stdout.includes("Exit codes:\n  0  "));
    }
  }
});

Deno.test("the tasks name their permissions explicitly", () => {
  for (const name of ["preview", "doctor", "engine-config"]) {
    assert.match(
      TASKS[name],
      new RegExp(`^deno run (-q )?(--allow-[a-z]+(=[^ ]+)? )+admin\\.ts ${name}$`),
    );
    assert.doesNotMatch(TASKS[name], /--allow-all|-A /);
  }
  assert.doesNotMatch(TASKS["engine-config"], /--allow-(run|write|net)/);
  assert.match(TASKS["engine-config"], /--allow-env=INIT_CWD /);
});

/**
 * Runs the real `deno task -q NAME ARGS...` from `cwd` (anywhere: this checkout's deno.json is
 * named), with PATH `path`.
 */
async function realTask(
  cwd: string,
  name: string,
  args: string[],
  path = Deno.env.get("PATH") ?? "",
): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", `${ROOT}deno.json`, name, ...args],
    cwd,
    clearEnv: true,
    env: { PATH: path, NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/" },
    stdin: "null",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

Deno.test("file arguments are relative to the folder the task was typed in", async () => {
  const out = Deno.makeTempDirSync({ prefix: "network-nat-cwd-" });
  try {
    Deno.copyFileSync(`${ROOT}samples/vnic.xml`, `${out}/mine.xml`);
    const preview = await realTask(out, "preview", [
      "mine.xml",
      "--value",
      "br-net",
      "--no-libvirt",
      "--output",
      "after.xml",
    ]);
    assert.equal(preview.code, 0, preview.stderr);
    assert.match(Deno.readTextFileSync(`${out}/after.xml`), /<source network="br-net"\/>/);
    Deno.copyFileSync(`${ROOT}tests/fixtures/engine-config/extnet-pg-mixed.txt`, `${out}/cdp.txt`);
    const engine = await realTask(out, "engine-config", ["cdp.txt"]);
    assert.equal(engine.code, 0, engine.stderr);
    assert.match(engine.stdout, /^engine-config -s CustomDeviceProperties=/m);
    const install = await realTask(out, "install", ["--hooks-dir", "hooks", "--dry-run"]);
    assert.ok(install.stdout.includes(`${out}/hooks/before_device_create/50_network_nat`));
    const doctor = await realTask(out, "doctor", ["--hooks-dir", "no-such-hooks", "--json"]);
    assert.ok(doctor.stdout.includes(`"${out}/no-such-hooks does not exist`), doctor.stdout);
  } finally {
    Deno.removeSync(out, { recursive: true });
  }
});

Deno.test("without virsh, preview prints nothing but the hook's own line", async () => {
  const args = ["vnic.xml", "--value", "br-net"];
  const run = await realTask(`${ROOT}samples`, "preview", args, DENO_BIN_DIR);
  assertOneLine(run, 2, /^network-nat: cannot check libvirt network 'br-net': virsh is not/);
});

// ---- preview

withVirsh.test("preview shows the hook's rewrite onto an Open vSwitch portgroup as a unified diff", async () => {
  const run = await task("preview", [fixture("vdsm-bridge-mtu.xml"), "--value", "ovs-net:vlan-20"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stderr,
    "network-nat: vNIC 52:54:00:59:f5:3f -> network ovs-net:vlan-20 (Open vSwitch, VLAN 20)\n",
  );
  const file = fixture("vdsm-bridge-mtu.xml");
  assert.equal(
    run.stdout,
    `--- ${file}\n+++ ${file} (after network-nat at before_device_create)\n` +
      "@@ -1,10 +1,12 @@\n \n" +
      '-            <interface type="bridge">\n' +
      '+            <interface type="network">\n' +
      '                 <address bus="0x00" domain="0x0000"\n' +
      '                     function="0x0" slot="0x03" type="pci"/>\n' +
      '                 <mac address="52:54:00:59:F5:3F"/>\n' +
      '                 <model type="virtio"/>\n' +
      '-                <source bridge="ovirtmgmt"/>\n' +
      '+                <source network="ovs-net" portgroup="vlan-20"/>\n' +
      '+                <vlan><tag id="20"/></vlan>\n' +
      '+                <virtualport type="openvswitch"><parameters ' +
      'interfaceid="293d33b9-eb21-52d7-a630-46b243c18bf5"/></virtualport>\n' +
      '                 <mtu size="1492"/>\n' +
      '                 <link state="up"/>\n' +
      '                 <boot order="1"/>\n',
  );
});

withVirsh.test("preview --output writes what the hook writes, byte for byte, as the installed hook would", async () => {
  const input = corpus("gen-hookinput-nic-hotplug.xml");
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-preview-" });
  try {
    const out = `${dir}/out.xml`;
    const run = await task("preview", [
      "-",
      "--value",
      "br-net:vlan-20",
      "--point",
      "before_nic_hotplug",
      "--output",
      out,
    ], { stdin: input });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "");
    // The hook itself, run as VDSM runs it, on the same input.
    const hookFile = `${dir}/hook_domxml`;
    Deno.writeTextFileSync(hookFile, input);
    Deno.mkdirSync(`${dir}/before_nic_hotplug`);
    Deno.symlinkSync(`${ROOT}main.ts`, `${dir}/before_nic_hotplug/${HOOK_NAME}`);
    const hook = await new Deno.Command(`${dir}/before_nic_hotplug/${HOOK_NAME}`, {
      env: {
        PATH: `${DENO_BIN_DIR}:${SYSTEMD_PATH}`,
        _hook_domxml: hookFile,
        extnet_pg: "br-net:vlan-20",
        LIBVIRT_DEFAULT_URI: TEST_NETWORKS_URI,
      },
    }).output();
    assert.equal(hook.code, 0);
    assert.equal(Deno.readTextFileSync(out), Deno.readTextFileSync(hookFile));
    assert.equal(run.stderr, new TextDecoder().decode(hook.stderr));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

withVirsh.test("preview --output - prints the whole XML; the diff applies with patch", async () => {
  const file = fixture("vdsm-hookinput-device-create-exact.xml");
  const whole = await task("preview", [file, "--value", "br-net", "--output", "-"]);
  assert.equal(whole.code, 0, whole.stderr);
  assert.match(whole.stdout, /<source network=.br-net.\s*\/>/);
  const diff = await task("preview", [file, "--value", "br-net"]);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.copyFileSync(file, `${dir}/nic.xml`);
    const child = new Deno.Command("patch", {
      args: ["-s", `${dir}/nic.xml`],
      stdin: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(diff.stdout));
    await writer.close();
    assert.ok((await child.status).success);
    assert.equal(Deno.readTextFileSync(`${dir}/nic.xml`), whole.stdout);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

withVirsh.test("preview prints the hook's refusal line exactly and exits 2", async () => {
  const cases: [string, string[], string][] = [
    [
      "gen-hookinput-device-create-extnet-queues-qos.xml",
      ["--value", "ovs-net:vlan-20"],
      "network-nat: vNIC 56:6f:1a:2b:00:01: libvirt cannot apply a network filter on Open vSwitch " +
      `network 'ovs-net'; set the vNIC profile's network filter to "No Network Filter"`,
    ],
    [
      "vdsm-bridge-mtu.xml",
      ["--value", "ovs-net:vlan-30"],
      "network-nat: libvirt network 'ovs-net' has no portgroup 'vlan-30' (it has: vlan-10, " +
      "vlan-20, trunk); fix extnet_pg on the vNIC profile or add the portgroup",
    ],
    [
      "vdsm-bridge-mtu.xml",
      ["--value", "nonet"],
      "network-nat: libvirt network 'nonet' does not exist on this host (see 'virsh net-list " +
      "--all'); define it on every host, or fix extnet_pg on the vNIC profile",
    ],
    [
      "vdsm-bridge-mtu.xml",
      ["--value", "ovs net"],
      'network-nat: extnet_pg="ovs net" is not NETWORK or NETWORK:PORTGROUP (each 1-64 ' +
      "characters of A-Z a-z 0-9 _ . -); fix the vNIC profile's custom property",
    ],
    [
      "vdsm-sriov-hostdev-basic.xml",
      ["--value", "br-net", "--no-libvirt"],
      'network-nat: vNIC 00:1a:4a:16:91:df: an <interface type="hostdev"> cannot be redirected ' +
      "(only bridge and network vNICs can); remove extnet_pg from its vNIC profile",
    ],
    [
      "vdsm-bridge-mtu.xml",
      ["--value", "br-net", "--provider-type", "EXTERNAL_NETWORK"],
      "network-nat: vNIC 52:54:00:59:f5:3f is on an external-provider network " +
      '(provider_type="EXTERNAL_NETWORK", e.g. OVN), which extnet_pg cannot redirect; remove ' +
      "extnet_pg from its vNIC profile or use a profile on an oVirt network",
    ],
  ];
  for (const [file, args, line] of cases) {
    const run = await task("preview", [fixture(file), ...args]);
    assert.equal(run.code, 2, `${file}: ${run.stderr}`);
    assert.equal(run.stdout, "");
    const lines = run.stderr.split("\n").filter((l) => !l.startsWith("preview: "));
    assert.deepEqual(lines, [line, ""]);
  }
});

withVirsh.test("preview at before_device_migrate_destination: a vNIC not on its target is kept, with how to redirect it", async () => {
  const run = await task("preview", [
    fixture("vdsm-bridge-mtu.xml"),
    "--value",
    "ovs-net:vlan-20",
    "--point",
    "before_device_migrate_destination",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "");
  assert.match(
    run.stderr,
    /^network-nat: vNIC 52:54:00:59:f5:3f runs on bridge ovirtmgmt on the source host and keeps it here, though extnet_pg says ovs-net:vlan-20; to redirect it, restart the VM, or unplug and plug the vNIC\n/,
  );
});

withVirsh.test("preview of an unplugged vNIC or at migration: no diff, exit 0, said on stderr", async () => {
  const unplugged = await task("preview", [
    fixture("gen-hookinput-device-create-vdsmdummy.xml"),
    "--value",
    "ovs-net",
  ]);
  assert.equal(unplugged.code, 0);
  assert.equal(unplugged.stdout, "");
  assert.match(unplugged.stderr, /has no network \(unplugged\); left as it is\n/);
  assert.match(unplugged.stderr, /^preview: the hook would leave the device XML as it is/m);
  const migration = await task("preview", [
    fixture("gen-hookinput-device-migrate-destination.xml"),
    "--value",
    "ovs-net:vlan-20",
    "--point",
    "before_device_migrate_destination",
  ]);
  assert.equal(migration.code, 0);
  assert.equal(migration.stdout, "");
  assert.match(
    migration.stderr,
    /network ovs-net:vlan-20 \(Open vSwitch, VLAN 20\) is ready on this host/,
  );
});

Deno.test("preview --no-libvirt skips the lookup and says so", async () => {
  const run = await task("preview", [
    fixture("vdsm-bridge-mtu.xml"),
    "--value",
    "anything:at-all",
    "--no-libvirt",
  ], {
    env: { LIBVIRT_DEFAULT_URI: "test:///nonexistent.xml" },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^preview: --no-libvirt: libvirt was not consulted/m);
  assert.match(run.stdout, /\+ +<source network="anything" portgroup="at-all"\/>/);
  assert.doesNotMatch(run.stdout, /virtualport/);
});

withVirsh.test("preview reports an unreachable libvirt as the hook would", async () => {
  const run = await task("preview", [fixture("vdsm-bridge-mtu.xml"), "--value", "ovs-net"], {
    env: { LIBVIRT_DEFAULT_URI: "test:///nonexistent.xml" },
  });
  assertOneLine(
    run,
    2,
    /^network-nat: cannot check libvirt network 'ovs-net' at test:\/\/\/nonexistent\.xml: /,
  );
});

Deno.test("preview refuses a file that is not UTF-8 like the hook, exit 2", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...TASKS.preview.split(" ").slice(1), "-", "--value", "br-net"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new Uint8Array([0x3c, 0xff, 0x3e]));
  await writer.close();
  const output = await child.output();
  assert.equal(output.code, 2);
  assert.equal(
    new TextDecoder().decode(output.stderr),
    "network-nat: the device XML in stdin is not valid UTF-8\n",
  );
});

withVirsh.test("preview usage and I/O errors: one line, exit 1", async () => {
  const file = fixture("vdsm-bridge-mtu.xml");
  assertOneLine(
    await task("preview", [file]),
    1,
    /^network-nat preview: --value NETWORK\[:PORTGROUP\] is required/,
  );
  assertOneLine(await task("preview", ["--value", "x"]), 1, /name the device XML file/);
  assertOneLine(await task("preview", [file, file, "--value", "x"]), 1, /expected one FILE, got 2/);
  assertOneLine(
    await task("preview", [file, "--value", "x", "--bogus"]),
    1,
    /unknown option --bogus/,
  );
  assertOneLine(await task("preview", [file, "--value"]), 1, /option --value needs a value/);
  assertOneLine(
    await task("preview", [file, "--no-libvirt=yes", "--value", "x"]),
    1,
    /--no-libvirt takes no value/,
  );
  assertOneLine(
    await task("preview", [file, "--value", "x", "--point", "after_vm_start"]),
    1,
    new RegExp(`unknown --point after_vm_start: expected one of ${HOOK_POINTS.join(", ")}`),
  );
  assertOneLine(
    await task("preview", ["/nonexistent/nic.xml", "--value", "x"]),
    1,
    /^network-nat preview: cannot read \/nonexistent\/nic\.xml: No such file or directory\n$/,
  );
  assertOneLine(
    await task("preview", [file, "--value", "br-net", "--output", "/nonexistent/out.xml"]),
    1,
    /cannot write \/nonexistent\/out\.xml/,
  );
});

// ---- doctor

/** A hooks root with the four links to this checkout. */
function hooksRoot(): string {
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-hooks-" });
  for (const point of HOOK_POINTS) {
    Deno.mkdirSync(`${dir}/${point}`);
    Deno.symlinkSync(`${ROOT}main.ts`, `${dir}/${point}/${HOOK_NAME}`);
  }
  return dir;
}

const DOCTOR_PATH = `${SYSTEMD_PATH}:${DENO_BIN_DIR}`;

// doctor on the hooks root `hooks`, with vdsmd's PATH as the tests give it.
function doctor(hooks: string, args: string[] = [], env?: Record<string, string>): Promise<Run> {
  return task("doctor", ["--hooks-dir", hooks, "--path", DOCTOR_PATH, ...args], { env });
}

interface JsonReport {
  ok: boolean;
  summary: { ok: number; warn: number; fail: number };
  findings: { check: string; status: string; message: string; fix?: string }[];
  networks: {
    name: string;
    kind: string;
    active: boolean;
    autostart: boolean;
    portgroups: { name: string }[];
  }[];
}

withVirsh.test("doctor on a ready host: links ok, every network listed with kind and state, exit 0", async () => {
  const hooks = hooksRoot();
  try {
    const run = await doctor(hooks);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stderr, "");
    for (const point of HOOK_POINTS) {
      assert.match(
        run.stdout,
        new RegExp(`^ok +hooks +${hooks}/${point}/${HOOK_NAME} -> ${ROOT}main\\.ts$`, "m"),
      );
    }
    assert.match(run.stdout, /^ok +deno +\S+deno on vdsmd's PATH is deno 2\./m);
    assert.match(run.stdout, /^ok +virsh +\S+\/virsh on vdsmd's PATH$/m);
    assert.match(
      run.stdout,
      new RegExp(
        `^ok +libvirt +read-only access to ${TEST_NETWORKS_URI} as user \\S+: 5 networks$`,
        "m",
      ),
    );
    // The test driver autostarts nothing: each network warns, with the fix.
    assert.match(
      run.stdout,
      /^warn +network +ovs-net: Open vSwitch, active, no autostart, portgroups vlan-10: VLAN 10; vlan-20: VLAN 20; trunk \(default\): trunk 10,20 \(native 20 untagged\)\n +fix: after a host reboot it stays down and VM starts on it fail: virsh net-autostart ovs-net$/m,
    );
    assert.match(
      run.stdout,
      /^warn +network +br-net: Linux bridge, active, no autostart, portgroups vlan-20: no VLAN$/m,
    );
    assert.match(run.stdout, /^warn +network +default: NAT, active, no autostart, no portgroups$/m);
    assert.match(run.stdout, /^warn +network +off-net: Linux bridge, /m);
    assert.match(run.stdout, /\n\n\d+ ok, \d+ warnings, 0 failures\n$/);
  } finally {
    Deno.removeSync(hooks, { recursive: true });
  }
});

withVirsh.test("doctor --json: missing link, stray copy and a bad --value fail, exit 1", async () => {
  const hooks = hooksRoot();
  try {
    Deno.removeSync(`${hooks}/before_update_device/${HOOK_NAME}`);
    Deno.copyFileSync(`${ROOT}main.ts`, `${hooks}/before_nic_hotplug/60_network_nat_old`);
    Deno.chmodSync(`${hooks}/before_nic_hotplug/60_network_nat_old`, 0o755);
    Deno.writeTextFileSync(`${hooks}/before_device_create/10_other_hook`, "#!/bin/sh\nexit 0\n");
    Deno.chmodSync(`${hooks}/before_device_create/10_other_hook`, 0o755);
    const run = await doctor(hooks, ["--json", "--value", "ovs-net:vlan-30"]);
    assert.equal(run.code, 1, run.stderr);
    const report: JsonReport = JSON.parse(run.stdout);
    assert.equal(report.ok, false);
    const failed = report.findings.filter((f) => f.status === "fail");
    assert.deepEqual(failed.map((f) => f.check), ["hooks", "hooks", "target"]);
    assert.equal(
      failed[0].message,
      `${hooks}/before_update_device/${HOOK_NAME} is missing: VDSM does not run the hook at before_update_device`,
    );
    assert.equal(failed[0].fix, "deno task install");
    assert.match(
      failed[1].message,
      /60_network_nat_old is an executable file holding the network-nat hook/,
    );
    assert.equal(
      failed[2].message,
      "extnet_pg=ovs-net:vlan-30: the hook would refuse: libvirt network 'ovs-net' has no portgroup " +
        "'vlan-30' (it has: vlan-10, vlan-20, trunk); fix extnet_pg on the vNIC profile or add the portgroup",
    );
    assert.deepEqual(
      report.networks.map((n) => [n.name, n.kind, n.active, n.autostart, n.portgroups.length]),
      [
        ["br-net", "Linux bridge", true, false, 1],
        ["default", "NAT", true, false, 0],
        ["off-net", "Linux bridge", true, false, 0],
        ["ovs-net", "Open vSwitch", true, false, 3],
        ["ovs-plain", "Open vSwitch", true, false, 0],
      ],
    );
  } finally {
    Deno.removeSync(hooks, { recursive: true });
  }
});

withVirsh.test("doctor --value checks one target with the hook's lookup", async () => {
  const hooks = hooksRoot();
  try {
    const good = await doctor(hooks, ["--value", "ovs-net:vlan-20"]);
    assert.equal(good.code, 0);
    assert.match(
      good.stdout,
      /^warn +target +extnet_pg=ovs-net:vlan-20: the hook would redirect vNICs to Open vSwitch, portgroup vlan-20, VLAN 20/m,
    );
    const missing = await doctor(hooks, ["--value", "nonet"]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stdout,
      /^FAIL +target +extnet_pg=nonet: the hook would refuse: libvirt network 'nonet' does not exist/m,
    );
  } finally {
    Deno.removeSync(hooks, { recursive: true });
  }
});

withVirsh.test("doctor --value reports an unreachable libvirt as the hook's refusal", async () => {
  const hooks = hooksRoot();
  try {
    const run = await doctor(hooks, ["--json", "--value", "ovs-net"], {
      LIBVIRT_DEFAULT_URI: "test:///nonexistent.xml",
    });
    assert.equal(run.code, 1, run.stderr);
    const report: JsonReport = JSON.parse(run.stdout);
    const target = report.findings.filter((f) => f.check === "target");
    assert.deepEqual(target.map((f) => f.status), ["fail"]);
    assert.match(
      target[0].message,
      /^extnet_pg=ovs-net: the hook would refuse: cannot check libvirt network 'ovs-net' at test:\/\/\/nonexistent\.xml: /,
    );
  } finally {
    Deno.removeSync(hooks, { recursive: true });
  }
});

Deno.test("doctor fails without deno on vdsmd's PATH, a hooks root or libvirt", async () => {
  const run = await task("doctor", [
    "--hooks-dir",
    "/nonexistent/hooks",
    "--path",
    "/nonexistent",
    "--json",
  ], {
    env: { LIBVIRT_DEFAULT_URI: "test:///nonexistent.xml" },
  });
  assert.equal(run.code, 1);
  const report: JsonReport = JSON.parse(run.stdout);
  const failed = report.findings.filter((f) => f.status === "fail").map((f) => f.check);
  assert.deepEqual(failed, ["deno", "hooks", "virsh", "libvirt"]);
  assert.deepEqual(report.networks, []);
});

Deno.test(needing(
  Deno.uid() === 0 ? VIRSH_MISSING ?? missingCommands("setpriv") : "needs root",
  {
    name: "doctor checks libvirt as the hook's user when run as root",
    fn: async () => {
      const hooks = hooksRoot();
      try {
        const run = await doctor(hooks, ["--user", "nobody", "--json"]);
        const report: JsonReport = JSON.parse(run.stdout);
        const libvirt = report.findings.filter((f) => f.check === "libvirt");
        assert.deepEqual(libvirt.map((f) => f.status), ["ok"], run.stdout);
        assert.match(libvirt[0].message, /as user nobody: 5 networks$/);
      } finally {
        Deno.removeSync(hooks, { recursive: true });
      }
    },
  },
));

/**
 * A hooks root any user can reach, linking each hook point to `checkout`'s main.ts, and a
 * function running that checkout's doctor on it, as root as user nobody (as VDSM's user would
 * be), else as this user.
 */
function selfTestHost(checkout: string) {
  const hooks = Deno.makeTempDirSync({ prefix: "network-nat-hooks-" });
  Deno.chmodSync(hooks, 0o755);
  for (const point of HOOK_POINTS) {
    Deno.mkdirSync(`${hooks}/${point}`, { mode: 0o755 });
    Deno.symlinkSync(`${checkout}main.ts`, `${hooks}/${point}/${HOOK_NAME}`);
  }
  const user = Deno.uid() === 0 ? ["--user", "nobody"] : [];
  const run = async (args: string[] = []) => {
    const [deno, ...words] = TASKS.doctor.split(" ");
    assert.equal(deno, "deno");
    const admin = words.indexOf("admin.ts");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        ...words.slice(0, admin),
        `${checkout}admin.ts`,
        ...words.slice(admin + 1),
        ...["--hooks-dir", hooks, "--path", DOCTOR_PATH, ...user, "--json", ...args],
      ],
      cwd: checkout,
      stdout: "piped",
      stderr: "piped",
      env: { LIBVIRT_DEFAULT_URI: TEST_NETWORKS_URI },
    }).output();
    assert.equal(new TextDecoder().decode(output.stderr), "");
    return { code: output.code, report: JSON.parse(new TextDecoder().decode(output.stdout)) };
  };
  return { hooks, run };
}

const SELFTEST_MISSING = VIRSH_MISSING ??
  (Deno.uid() === 0 ? missingCommands("setpriv") : undefined);

Deno.test(needing(SELFTEST_MISSING, {
  name: "doctor self-tests the linked hooks as VDSM would: one ok per hook point, in --json too",
  fn: async () => {
    const checkout = Deno.realPathSync(readableCheckout()) + "/";
    const { hooks, run } = selfTestHost(checkout);
    try {
      const { code, report } = await run();
      const selfTest = report.findings.filter((f: { check: string }) => f.check === "selftest");
      assert.deepEqual(
        selfTest.map((f: { status: string }) => f.status),
        HOOK_POINTS.map(() => "ok"),
      );
      // No timings: a host's report changes only when the host does.
      assert.deepEqual(
        selfTest.map((f: { message: string }) => f.message),
        HOOK_POINTS.map((point) =>
          `${point} (${hooks}/${point}/${HOOK_NAME}): runs as VDSM would, without and with extnet_pg`
        ),
      );
      assert.deepEqual(report.hook.selfTest, {
        ran: true,
        points: Object.fromEntries(HOOK_POINTS.map((point) => [point, "pass"])),
      });
      assert.equal(code, report.ok ? 0 : 1);
      const skipped = await run(["--no-self-test"]);
      assert.deepEqual(skipped.report.hook.selfTest, {
        ran: false,
        points: {},
        reason: "skipped (--no-self-test)",
      });
      assert.ok(!skipped.report.findings.some((f: { check: string }) => f.check === "selftest"));
      // Not every point linked: the hooks findings say so, the self-test does not run.
      Deno.removeSync(`${hooks}/before_update_device/${HOOK_NAME}`);
      const unlinked = (await run()).report.hook.selfTest;
      assert.equal(unlinked.ran, false);
      assert.match(unlinked.reason, /^not every hook point has 50_network_nat linked to /);
    } finally {
      Deno.removeSync(hooks, { recursive: true });
    }
  },
}));

Deno.test(needing(SELFTEST_MISSING, {
  name: "doctor fails a hook that fails its self-test, naming the hook point and the reason",
  fn: async () => {
    const base = Deno.makeTempDirSync({ prefix: "network-nat-checkout-" });
    Deno.chmodSync(base, 0o755);
    const checkout = `${Deno.realPathSync(base)}/broken/`;
    copyCheckout(checkout);
    // A checkout whose hook refuses the self-test's network, as a damaged one would.
    const node = `${checkout}samples/selftest-node.xml`;
    Deno.writeTextFileSync(
      node,
      Deno.readTextFileSync(node).replaceAll("nnat-selftest", "nnat-elsewhere"),
    );
    const { hooks, run } = selfTestHost(checkout);
    try {
      const { code, report } = await run();
      assert.equal(code, 1);
      assert.equal(report.ok, false);
      const failed = report.findings.filter((f: { check: string; status: string }) =>
        f.check === "selftest" && f.status === "fail"
      );
      assert.equal(failed.length, HOOK_POINTS.length, JSON.stringify(report.findings));
      assert.match(
        failed[0].message,
        /^before_device_create \(.*\): with extnet_pg=nnat-selftest:selftest: exit code 2 \(stderr: network-nat: libvirt network 'nnat-selftest' does not exist/,
      );
      assert.match(failed[0].fix, /^fix what the line names/);
      assert.deepEqual(
        report.hook.selfTest,
        { ran: true, points: Object.fromEntries(HOOK_POINTS.map((point) => [point, "fail"])) },
      );
    } finally {
      Deno.removeSync(hooks, { recursive: true });
      Deno.removeSync(base, { recursive: true });
    }
  },
}));

withVirsh.test("doctor warns about running vNICs that are not where their profile says", async () => {
  const hooks = hooksRoot();
  try {
    const env = { LIBVIRT_DEFAULT_URI: `test://${ROOT}tests/fixtures/live/running-host.xml` };
    const text = await doctor(hooks, [], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^warn +vnic +VM web1: vNIC 56:6f:1a:2b:00:05 runs on bridge ovirtmgmt, extnet_pg says ovs-net:vlan-20\n +fix: restart the VM, or unplug and plug the vNIC, so that the hook redirects it/m,
    );
    const run = await doctor(hooks, ["--json"], env);
    const report: JsonReport & { vnics: Record<string, string | null>[] } = JSON.parse(run.stdout);
    assert.deepEqual(
      report.findings.filter((f) => f.check === "vnic").map((f) => [f.status, f.message]),
      [
        [
          "warn",
          "VM web1: vNIC 56:6f:1a:2b:00:05 runs on bridge ovirtmgmt, extnet_pg says ovs-net:vlan-20",
        ],
        [
          "warn",
          "VM db1: vNIC 56:6f:1a:2b:00:06 runs on network ovs-net:vlan-10 (Open vSwitch port, " +
          "VLAN 10), extnet_pg says ovs-net:vlan-20",
        ],
        [
          "warn",
          "VM app1: vNIC 56:6f:1a:2b:00:08 runs on network ovs-net:vlan-20 (Open vSwitch port, " +
          "VLAN 30), but now portgroup 'vlan-20' of network 'ovs-net' gives VLAN 20, the port " +
          "carries VLAN 30",
        ],
      ],
    );
    assert.deepEqual(
      report.vnics.map((v) => [v.vm, v.mac, v.extnet_pg, v.status]),
      [
        ["web1", "56:6f:1a:2b:00:01", "ovs-net:vlan-20", "ok"],
        ["web1", "56:6f:1a:2b:00:05", "ovs-net:vlan-20", "warn"],
        ["db1", "56:6f:1a:2b:00:06", "ovs-net:vlan-20", "warn"],
        ["db1", "56:6f:1a:2b:00:07", "default", "ok"],
        ["app1", "56:6f:1a:2b:00:08", "ovs-net:vlan-20", "warn"],
      ],
    );
    const none = JSON.parse((await doctor(hooks, ["--json"])).stdout);
    assert.deepEqual(
      none.findings.filter((f: { check: string }) => f.check === "vms"),
      [{
        check: "vms",
        status: "ok",
        message: "0 running VMs, 0 vNICs with extnet_pg: all where their profile says",
      }],
    );
  } finally {
    Deno.removeSync(hooks, { recursive: true });
  }
});

Deno.test("doctor usage errors: one line, exit 2", async () => {
  assertOneLine(
    await task("doctor", ["--bogus"]),
    2,
    /^network-nat doctor: unknown option --bogus/,
  );
  assertOneLine(await task("doctor", ["extra"]), 2, /unexpected argument extra/);
});

// ---- engine-config

const ENGINE_FIXTURES = `${ROOT}tests/fixtures/engine-config`;

Deno.test("engine-config prints one command per version to change, then the restart", async () => {
  for (
    const name of [
      "engine-4.5-defaults",
      "one-version",
      "empty-values",
      "other-device-types",
      "extnet-pg-old-regex",
    ]
  ) {
    const input = Deno.readTextFileSync(`${ENGINE_FIXTURES}/${name}.txt`);
    const run = await task("engine-config", [`${ENGINE_FIXTURES}/${name}.txt`]);
    assert.equal(run.code, 0, `${name}: ${run.stderr}`);
    assert.equal(run.stderr, "");
    const commands = run.stdout.split("\n").filter((l) => l && !l.startsWith("#"));
    assert.deepEqual(commands, renderCommands(planExtnetPg(parseEngineConfigOutput(input))), name);
    assert.equal(commands.at(-1), "systemctl restart ovirt-engine");
  }
});

Deno.test("engine-config reads stdin and keeps every existing property", async () => {
  const input = Deno.readTextFileSync(`${ENGINE_FIXTURES}/extnet-pg-mixed.txt`);
  const run = await task("engine-config", [], { stdin: input });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    `# CustomDeviceProperties, per compatibility version (extnet_pg=${EXTNET_PG_REGEX}):`,
    "#   4.5: add extnet_pg, keep the rest",
    "#   4.6: replace the extnet_pg regex ^[a-zA-Z0-9_ ---]+(:[a-zA-Z0-9_ ---]+|)$, keep the rest",
    "#   4.7: extnet_pg is already declared right; nothing to change",
  ]);
  const commands = lines.filter((l) => !l.startsWith("#"));
  assert.equal(commands.length, 3);
  assert.match(
    commands[0],
    /^engine-config -s CustomDeviceProperties='\{type=interface;prop=\{SecurityGroups=.*;extnet_pg=.*\}\}' --cver=4\.5$/,
  );
  assert.match(commands[1], /--cver=4\.6$/);
  assert.ok(commands[1].includes(`extnet_pg=${EXTNET_PG_REGEX};SecurityGroups=`), commands[1]);
  const dash = await task("engine-config", ["-"], { stdin: input });
  assert.equal(dash.stdout, run.stdout);
});

Deno.test("engine-config says when nothing needs to change, exit 0", async () => {
  const run = await task("engine-config", [`${ENGINE_FIXTURES}/extnet-pg-current.txt`]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^# nothing to change: no command to run$/m);
  assert.equal(run.stdout.split("\n").filter((l) => l && !l.startsWith("#")).length, 0);
});

Deno.test("engine-config refuses every malformed output in one line, exit 1, nothing on stdout", async () => {
  const names = [...Deno.readDirSync(ENGINE_FIXTURES)].map((e) => e.name)
    .filter((n) => n.startsWith("malformed-") || n === "single-quote.txt").sort();
  assert.ok(names.length >= 10);
  for (const name of names) {
    const run = await task("engine-config", [`${ENGINE_FIXTURES}/${name}`]);
    assertOneLine(run, 1, /^network-nat engine-config: refused, nothing printed: /);
    assert.equal(run.stdout, "", name);
  }
  const trailing = await task("engine-config", [`${ENGINE_FIXTURES}/malformed-trailing-text.txt`]);
  assert.match(trailing.stderr, /version 4\.7, line 1, column \d+: /);
});

Deno.test("engine-config usage and I/O errors: one line, exit 2", async () => {
  assertOneLine(await task("engine-config", ["a", "b"]), 2, /expected at most one FILE, got 2/);
  assertOneLine(await task("engine-config", ["--bogus"]), 2, /unknown option --bogus/);
  assertOneLine(
    await task("engine-config", ["/nonexistent.txt"]),
    2,
    /^network-nat engine-config: cannot read \/nonexistent\.txt: No such file or directory\n$/,
  );
});

// ---- fleet

Deno.test("doctor --json names its host and format, and carries the hook state", async () => {
  const hooks = hooksRoot();
  try {
    Deno.removeSync(`${hooks}/before_nic_hotplug/${HOOK_NAME}`);
    const named = JSON.parse((await doctor(hooks, ["--json", "--host-name", "hv7"])).stdout);
    assert.equal(named.format, 1);
    assert.equal(named.host, "hv7");
    assert.deepEqual(named.libvirt, { uri: TEST_NETWORKS_URI, user: named.libvirt.user });
    assert.equal(named.hook.hooksDir, hooks);
    assert.deepEqual(named.hook.links, {
      before_device_create: "linked",
      before_nic_hotplug: "missing",
      before_update_device: "linked",
      before_device_migrate_destination: "linked",
    });
    assert.match(named.hook.deno.version, /^deno 2\./);
    const own = JSON.parse((await doctor(hooks, ["--json"])).stdout);
    const uname = await new Deno.Command("uname", { args: ["-n"] }).output();
    assert.equal(own.host, new TextDecoder().decode(uname.stdout).trim());
  } finally {
    Deno.removeSync(hooks, { recursive: true });
  }
});

Deno.test("fleet over doctor reports: exit 0 when hosts agree, 1 naming the drift", async () => {
  const hooks = hooksRoot();
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-fleet-" });
  try {
    const drifted = `${dir}/drifted.xml`;
    Deno.writeTextFileSync(
      drifted,
      Deno.readTextFileSync(`${ROOT}samples/networks.xml`).replace(
        "<tag id='20'/>",
        "<tag id='21'/>",
      ),
    );
    const report = async (host: string, uri: string) => {
      const run = await doctor(hooks, ["--json", "--host-name", host], {
        LIBVIRT_DEFAULT_URI: uri,
      });
      Deno.writeTextFileSync(`${dir}/${host}.json`, run.stdout);
      return `${dir}/${host}.json`;
    };
    const hv1 = await report("hv1", TEST_NETWORKS_URI);
    const hv2 = await report("hv2", TEST_NETWORKS_URI);
    const hv3 = await report("hv3", `test://${drifted}`);

    const agree = await task("fleet", [hv1, hv2]);
    assert.equal(agree.code, 0, agree.stdout);
    assert.match(agree.stdout, /^network-nat fleet: 2 hosts agree\n/);
    assert.match(agree.stdout, /^ {2}ovs-net +no autostart +no autostart$/m);
    assert.match(agree.stdout, /^ {2}links +4\/4 +4\/4$/m);

    const differ = await task("fleet", [hv1, hv2, hv3]);
    assert.equal(differ.code, 1, differ.stderr);
    assert.match(differ.stdout, /^ {2}ovs-net +no autostart +no autostart +DIFFERS$/m);
    assert.match(
      differ.stdout,
      /^ {2}ovs-net on hv3 differs from hv1, hv2: portgroup vlan-20 has VLAN 21, not VLAN\s+20: /m,
    );
    assert.match(differ.stdout, /^ {2}ovs-net:vlan-20: migrations refused between hosts /m);
    const json = JSON.parse((await task("fleet", ["--json", hv1, hv3])).stdout);
    assert.equal(json.agree, false);
    assert.deepEqual(json.hosts, ["hv1", "hv3"]);
  } finally {
    Deno.removeSync(hooks, { recursive: true });
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fleet usage errors and unreadable reports: one line naming the file, exit 2", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-fleet-" });
  try {
    Deno.writeTextFileSync(`${dir}/text.json`, "ok\n");
    Deno.writeTextFileSync(`${dir}/other.json`, '{"ok": true}\n');
    assertOneLine(await task("fleet", []), 2, /name the doctor --json reports to compare/);
    assertOneLine(await task("fleet", ["--bogus"]), 2, /unknown option --bogus/);
    assertOneLine(
      await task("fleet", [`${dir}/none.json`]),
      2,
      /^network-nat fleet: cannot read \/.*\/none\.json: No such file or directory\n$/,
    );
    assertOneLine(await task("fleet", [`${dir}/text.json`]), 2, /\/text\.json: not JSON/);
    assertOneLine(await task("fleet", [`${dir}/other.json`]), 2, /\/other\.json: not a doctor/);
    const help = await task("fleet", ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: deno task fleet \[--json\] REPORT\.json\.\.\./);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
