/**
 * Integration test of the installer on a host, as root: a real unprivileged
 * user stands in for `vdsm`; `deno task install` runs offline (`unshare -n`,
 * empty Deno cache) from a copy of the checkout with the modes a clone gets;
 * then every installed hook runs as that user, with no network, from cwd `/`,
 * stdin `/dev/null` and VDSM's environment convention, on real captured inputs.
 *
 * Without root or its tools the test is ignored, with the reason, unless
 * `CI=true`: then it runs and fails with the reason.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { HOOK_POINTS, type HookPoint } from "../lib/hook.ts";
import { HOOK_NAME, SYSTEMD_PATH } from "../admin/install_plan.ts";
import { copyCheckout, missingCommands, needing } from "./helpers.ts";

const CHECKOUT = dirname(dirname(fileURLToPath(import.meta.url)));
const CORPUS = `${CHECKOUT}/tests/fixtures/corpus`;
const decoder = new TextDecoder();

function commandOutput(command: string, args: string[]): { code: number; text: string } {
  try {
    const output = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .outputSync();
    return { code: output.code, text: decoder.decode(output.stdout).trim() };
  } catch {
    return { code: 127, text: "" };
  }
}

const IS_ROOT = commandOutput("id", ["-u"]).text === "0";
/** What the first test needs that is missing here: root and the tools to make a user. */
const MISSING = IS_ROOT
  ? missingCommands("useradd", "userdel", "unshare", "setpriv", "virsh", "getent")
  : "needs root (to create a user, unshare -n and setpriv)";

const UNSHARE = commandOutput("sh", ["-c", "command -v unshare"]).text;
const SETPRIV = commandOutput("sh", ["-c", "command -v setpriv"]).text;

/** Captured VDSM inputs per hook point, and whether the hook must rewrite them. */
const INPUTS: Record<HookPoint, { file: string; rewrite: boolean }> = {
  before_device_create: {
    file: "gen-hookinput-device-create-extnet-queues-qos.xml",
    rewrite: true,
  },
  before_nic_hotplug: { file: "gen-hookinput-nic-hotplug.xml", rewrite: true },
  before_update_device: { file: "gen-hookinput-update-device-started-here.xml", rewrite: true },
  before_device_migrate_destination: {
    file: "gen-hookinput-device-migrate-destination.xml",
    rewrite: false,
  },
};

/** A test-driver node with the Linux-bridge network the corpus convention assumes. */
const NODE_XML = `<node>
  <network>
    <name>br-net</name>
    <forward mode='bridge'/>
    <bridge name='brnet0'/>
    <portgroup name='vlan-20'/>
  </network>
</node>
`;

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The install task's command line from the checkout's deno.json, run by the Deno in PATH. */
function installTask(checkout: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${checkout}/deno.json`));
  const words = String(config.tasks.install).split(/\s+/);
  assert.equal(words[0], "deno", "the install task is expected to be a plain 'deno run ...'");
  assert.ok(words.every((word) => /^[\w.=,:/-]+$/.test(word)), "no shell syntax in the task");
  return words;
}

function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output().then((output) => ({
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  }));
}

Deno.test(needing(MISSING, {
  name:
    "install integration: real user, offline install, hooks run as VDSM runs them under unshare -n",
  sanitizeResources: false,
  fn: async () => {
    const temp = Deno.makeTempDirSync({ prefix: "nnat-integration." });
    Deno.chmodSync(temp, 0o755);
    const name = `nnat-test-${crypto.randomUUID().slice(0, 4)}`;
    let created = false;
    try {
      // The user VDSM would be: a system account with a writable home, as /var/lib/vdsm is.
      const home = `${temp}/home`;
      const add = await run("useradd", [
        "--system",
        "--no-create-home",
        "--home-dir",
        home,
        "--shell",
        "/usr/sbin/nologin",
        "--user-group",
        name,
      ]);
      assert.equal(add.code, 0, `useradd failed: ${add.stderr}`);
      created = true;
      const [, , uid, gid] = commandOutput("getent", ["passwd", name]).text.split(":");
      const account: Account = { name, uid: Number(uid), gid: Number(gid), home };
      Deno.mkdirSync(home, { mode: 0o700 });
      Deno.chownSync(home, account.uid, account.gid);

      const checkout = `${temp}/network-nat`;
      copyCheckout(checkout);
      // Deno where vdsmd finds it: a copy in a folder on the service PATH.
      const bin = `${temp}/bin`;
      Deno.mkdirSync(bin, { mode: 0o755 });
      Deno.copyFileSync(Deno.execPath(), `${bin}/deno`);
      Deno.chmodSync(`${bin}/deno`, 0o755);
      const servicePath = `${bin}:${SYSTEMD_PATH}`;
      const hooks = `${temp}/hooks`;

      // 1. The admin's step, offline, with a Deno cache that never saw this project. It runs
      // the install task's own command line (see the separate test of `deno task` itself).
      const installEnv = {
        PATH: servicePath,
        HOME: "/root",
        DENO_DIR: `${temp}/root-deno-dir`,
        NO_COLOR: "1",
      };
      const taskLine = installTask(checkout);
      const installed = await run(
        "unshare",
        [
          "-n",
          "--",
          ...taskLine,
          "--hooks-dir",
          hooks,
          "--user",
          name,
          "--service-path",
          servicePath,
        ],
        { env: installEnv, clearEnv: true, cwd: checkout },
      );
      assert.equal(installed.code, 0, installed.stdout + installed.stderr);
      for (const point of HOOK_POINTS) {
        assert.equal(Deno.readLinkSync(`${hooks}/${point}/${HOOK_NAME}`), `${checkout}/main.ts`);
        assert.match(installed.stdout, new RegExp(`^pass +${point} `, "m"));
      }
      assert.match(installed.stdout, new RegExp(`as user ${name}, cwd /`));
      assert.match(installed.stdout, new RegExp(`Deno cache warmed for ${name} in ${home}/`));
      assert.ok(Deno.statSync(`${home}/.cache/deno`).isDirectory);

      // 2. VDSM's side: each installed hook, as the user, no network, cwd /, stdin /dev/null.
      const node = `${temp}/node.xml`;
      Deno.writeTextFileSync(node, NODE_XML);
      Deno.chmodSync(node, 0o644);
      const work = `${temp}/vdsm-tmp`; // VDSM's $TMPDIR: the hook writes its temp file here
      Deno.mkdirSync(work, { mode: 0o700 });
      Deno.chownSync(work, account.uid, account.gid);

      const runHook = async (point: HookPoint, input: string, env: Record<string, string>) => {
        const file = `${work}/tmp${crypto.randomUUID().slice(0, 8)}`;
        Deno.writeTextFileSync(file, input);
        Deno.chmodSync(file, 0o600);
        Deno.chownSync(file, account.uid, account.gid);
        // Absolute paths: the hook's PATH is not the test's.
        const result = await run(UNSHARE, [
          "-n",
          "--",
          SETPRIV,
          `--reuid=${account.uid}`,
          `--regid=${account.gid}`,
          "--init-groups",
          "--",
          `${hooks}/${point}/${HOOK_NAME}`,
        ], {
          clearEnv: true,
          cwd: "/",
          env: {
            PATH: servicePath,
            HOME: home,
            LIBVIRT_DEFAULT_URI: `test://${node}`,
            _hook_domxml: file,
            foo: "bar",
            vmId: "a1b2c3d4-0000-4000-8000-000000000001",
            ...env,
          },
        });
        const stat = Deno.statSync(file);
        const output = Deno.readTextFileSync(file);
        Deno.removeSync(file);
        return { ...result, output, mode: stat.mode! & 0o777, uid: stat.uid };
      };

      for (const point of HOOK_POINTS) {
        const { file, rewrite } = INPUTS[point];
        // At the migration destination the vNIC already runs on its target on the source host,
        // which here is this test's Linux-bridge network.
        const input = Deno.readTextFileSync(`${CORPUS}/${file}`)
          .replace('network="ovs-net"', 'network="br-net"')
          .replace(/\s*<vlan>[^]*?<\/vlan>|\s*<virtualport[^]*?<\/virtualport>/g, "");
        const where = `${point} on ${file}`;

        // No property: untouched and silent, without even starting Deno.
        const plain = await runHook(point, input, { PATH: "/nonexistent" });
        assert.equal(plain.code, 0, `${where}: ${plain.stderr}`);
        assert.equal(plain.output, input, where);
        assert.equal(plain.stderr, "", where);

        // The redirect.
        const redirected = await runHook(point, input, { extnet_pg: "br-net:vlan-20" });
        assert.equal(redirected.code, 0, `${where}: ${redirected.stderr}`);
        assert.match(redirected.stderr, /^network-nat: [^\n]*\n$/, where);
        if (rewrite) {
          assert.match(redirected.output, /<interface type="network"/, where);
          assert.match(
            redirected.output,
            /<source network="br-net" portgroup="vlan-20" ?\/>/,
            where,
          );
          assert.equal(redirected.mode, 0o600, `${where}: mode kept`);
          assert.equal(redirected.uid, account.uid, `${where}: owner kept`);
        } else {
          assert.equal(redirected.output, input, where);
        }

        // Refusals: exit 2, one line, file untouched. At the migration destination what counts
        // is the network the vNIC runs on, not extnet_pg.
        const refusals = point === "before_device_migrate_destination"
          ? [["br-net", input.replace('network="br-net"', 'network="missing-net"')]]
          : ["no such;value", "missing-net"].map((value) => [value, input]);
        for (const [value, xml] of refusals) {
          const refused = await runHook(point, xml, { extnet_pg: value });
          assert.equal(refused.code, 2, `${where} with ${value}: ${refused.stderr}`);
          assert.match(refused.stderr, /^network-nat: [\x20-\x7e]+\n$/, where);
          assert.equal(refused.output, xml, where);
        }
      }
      const missing = await runHook(
        "before_device_create",
        Deno.readTextFileSync(`${CORPUS}/${INPUTS.before_device_create.file}`),
        { extnet_pg: "missing-net" },
      );
      assert.match(missing.stderr, /libvirt network 'missing-net' does not exist/);

      // 3. Uninstall, offline too.
      const removed = await run(
        "unshare",
        ["-n", "--", ...taskLine, "--hooks-dir", hooks, "--uninstall"],
        { env: installEnv, clearEnv: true, cwd: checkout },
      );
      assert.equal(removed.code, 0, removed.stdout + removed.stderr);
      for (const point of HOOK_POINTS) {
        assert.throws(() => Deno.lstatSync(`${hooks}/${point}/${HOOK_NAME}`));
      }
    } finally {
      if (created) {
        await run("userdel", [name]);
        // Some systems keep the user's own group.
        if (commandOutput("getent", ["group", name]).code === 0) await run("groupdel", [name]);
      }
      Deno.removeSync(temp, { recursive: true });
    }
  },
}));

Deno.test(needing(IS_ROOT ? missingCommands("unshare") : "needs root (for unshare -n)", {
  name: "install integration: `deno task install` starts offline with an empty Deno cache",
  fn: async () => {
    const temp = Deno.makeTempDirSync({ prefix: "nnat-offline." });
    try {
      const checkout = `${temp}/network-nat`;
      copyCheckout(checkout);
      const result = await run("unshare", [
        "-n",
        "--",
        Deno.execPath(),
        "task",
        "install",
        "--help",
      ], {
        clearEnv: true,
        cwd: checkout,
        env: { PATH: SYSTEMD_PATH, HOME: "/root", DENO_DIR: `${temp}/deno-dir`, NO_COLOR: "1" },
      });
      assert.equal(
        result.code,
        0,
        "an offline host cannot run `deno task install` from a fresh clone: " +
          result.stderr.split("\n").filter((line) => /error|Download/.test(line)).join(" | "),
      );
      assert.match(result.stdout, /Usage: deno task install/);
    } finally {
      Deno.removeSync(temp, { recursive: true });
    }
  },
}));
