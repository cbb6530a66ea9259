/**
 * Tests of the installer: the pure plan (admin/install_plan.ts) directly, and
 * install.ts as a process against temporary hook roots.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { copyCheckout, missingCommands, needing, readableCheckout, withVirsh } from "./helpers.ts";
import { accessProblems, type Account, deniedAccess, parentsOf } from "../admin/access.ts";
import { HOOK_POINTS } from "../lib/hook.ts";
import { readInterface } from "../lib/interface.ts";
import { parseTarget, PROPERTY_REGEX } from "../lib/property.ts";
import {
  type Action,
  describeAction,
  engineInstructions,
  findStrays,
  type FoundEntry,
  HOOK_NAME,
  isProjectScript,
  mainScriptProblem,
  planInstall,
  planUninstall,
  type PointState,
  SYSTEMD_PATH,
} from "../admin/install_plan.ts";
import {
  ABSENT_NETWORK,
  judgeSelfTest,
  judgeSystemDaemonRun,
  SELFTEST_NETWORK,
  SELFTEST_NODE_FILE,
  SELFTEST_PORTGROUP,
  SELFTEST_PROPERTY,
  SELFTEST_VNIC_FILE,
  type SelfTestRun,
} from "../admin/selftest.ts";

const CHECKOUT = dirname(dirname(fileURLToPath(import.meta.url)));
const MAIN = `${CHECKOUT}/main.ts`;

// ---------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------

const VDSM: Account = { name: "vdsm", uid: 36, gid: 36, groups: [36, 107], home: "/var/lib/vdsm" };

function states(entry: PointState["entry"], directoryExists = true): PointState[] {
  return HOOK_POINTS.map((point) => ({ point, directoryExists, entry }));
}

function plan(points: PointState[], force = false): Action[] {
  return planInstall({
    hooksDir: "/h",
    mainPath: "/opt/nn/main.ts",
    checkoutDir: "/opt/nn",
    points,
    force,
    backupSuffix: "T1",
  });
}

Deno.test("plan: a fresh root gets one link per hook point, with missing folders", () => {
  const actions = plan(states({ kind: "missing" }, false));
  assert.deepEqual(actions.map((a) => a.kind), ["create", "create", "create", "create"]);
  assert.deepEqual(actions[1], {
    kind: "create",
    point: "before_nic_hotplug",
    path: "/h/before_nic_hotplug/50_network_nat",
    target: "/opt/nn/main.ts",
    createDirectory: true,
  });
});

Deno.test("plan: a link that leads to main.ts is already installed", () => {
  const actions = plan(
    states({ kind: "link", target: "/srv/nn-link/main.ts", resolved: "/opt/nn/main.ts" }),
  );
  assert.ok(actions.every((a) => a.kind === "already"));
});

Deno.test("plan: a foreign file or a link elsewhere is a conflict naming both paths", () => {
  const [file] = plan(states({ kind: "file", executable: true }));
  assert.equal(file.kind, "conflict");
  const line = describeAction(file, false);
  assert.match(line, /\/h\/before_device_create\/50_network_nat is an executable file/);
  assert.match(line, /not a link to \/opt\/nn\/main\.ts/);
  assert.match(line, /--force/);

  const [link] = plan(
    states({ kind: "link", target: "/opt/old/main.ts", resolved: "/opt/old/main.ts" }),
  );
  assert.match(describeAction(link, false), /is a link to \/opt\/old\/main\.ts, not a link to/);

  const [dangling] = plan(states({ kind: "link", target: "/opt/nn/gone.ts" }));
  assert.equal(dangling.kind, "conflict");
  assert.match(describeAction(dangling, false), /does not exist\) inside this checkout/);
});

Deno.test("plan: --force replaces, keeping what was there as a dot file; never a directory", () => {
  const [replace] = plan(states({ kind: "file", executable: false }), true);
  assert.deepEqual(replace, {
    kind: "replace",
    point: "before_device_create",
    path: "/h/before_device_create/50_network_nat",
    target: "/opt/nn/main.ts",
    found: "a file",
    backup: "/h/before_device_create/.50_network_nat.replaced-T1",
  });
  const [directory] = plan(states({ kind: "directory" }), true);
  assert.equal(directory.kind, "conflict");
});

function found(
  point: string,
  name: string,
  entry: FoundEntry["entry"],
  executable = true,
  projectScript = false,
): FoundEntry {
  return { point, name, path: `/h/${point}/${name}`, entry, executable, projectScript };
}

// This checkout's link at before_device_create, executable and reachable.
const ourLink = () =>
  found(
    "before_device_create",
    HOOK_NAME,
    { kind: "link", target: "/opt/nn/main.ts", resolved: "/opt/nn/main.ts" },
    true,
    true,
  );

Deno.test("plan: uninstall removes only links into the checkout, in any hook folder", () => {
  const actions = planUninstall("/opt/nn", [
    ourLink(),
    found("after_vm_start", "60_stale", { kind: "link", target: "/opt/nn/old.ts" }, false),
    found("before_nic_hotplug", HOOK_NAME, { kind: "file", executable: true }),
    found(
      "before_update_device",
      HOOK_NAME,
      {
        kind: "link",
        target: "/opt/other/main.ts",
        resolved: "/opt/other/main.ts",
      },
      true,
      true,
    ),
    found("before_device_create", "10_foreign", { kind: "file", executable: true }),
    found("before_device_create", "40_copy", { kind: "file", executable: true }, true, true),
    found(
      "before_device_create",
      "70_via",
      {
        kind: "link",
        target: "/srv/alias/main.ts",
        resolved: "/opt/nn/main.ts",
      },
      true,
      true,
    ),
  ]);
  assert.deepEqual(actions.map((a) => [a.kind, a.path]), [
    ["remove", "/h/before_device_create/50_network_nat"],
    ["remove", "/h/after_vm_start/60_stale"],
    ["keep", "/h/before_nic_hotplug/50_network_nat"],
    ["keep", "/h/before_update_device/50_network_nat"],
    ["keep", "/h/before_device_create/40_copy"],
    ["remove", "/h/before_device_create/70_via"],
  ]);
  assert.match(describeAction(actions[4], false), /remove it by hand/);
});

Deno.test("plan: strays are this project's other executable files in the hook folders", () => {
  const ours = ourLink();
  const strays = findStrays([
    ours,
    found("after_vm_start", HOOK_NAME, { kind: "link", target: "/opt/nn/main.ts" }, true, true),
    found("before_device_create", "40_copy", { kind: "file", executable: true }, true, true),
    found("before_device_create", ".40_hidden", { kind: "file", executable: true }, true, true),
    found("before_device_create", "41_plain", { kind: "file", executable: false }, false, true),
    found("before_device_create", "10_other", { kind: "file", executable: true }, true, false),
  ]);
  assert.deepEqual(strays.map((s) => s.path), [
    "/h/after_vm_start/50_network_nat",
    "/h/before_device_create/40_copy",
  ]);
});

Deno.test("plan: main.ts's own head is recognised as the project's hook and passes", () => {
  const head = Deno.readTextFileSync(MAIN).slice(0, 1024);
  assert.ok(isProjectScript(head));
  assert.equal(mainScriptProblem(MAIN, head, Deno.statSync(MAIN).mode!), undefined);
  assert.match(mainScriptProblem(MAIN, head, 0o644)!, /not executable \(mode 0644\)/);
  assert.match(mainScriptProblem(MAIN, "#!/usr/bin/env deno\n", 0o755)!, /#!\/bin\/sh/);
  assert.match(mainScriptProblem(MAIN, "#!/bin/sh\nexit 0\n", 0o755)!, /\/\/bin\/true;/);
  assert.ok(!isProjectScript("#!/bin/sh\n//bin/true; exec other\n"));
});

Deno.test("plan: access is judged on owner, then group, then others; root is special", () => {
  const dir = (mode: number, uid = 0, gid = 0) => ({
    path: "/d",
    isDirectory: true,
    mode,
    uid,
    gid,
  });
  assert.equal(deniedAccess(dir(0o755), VDSM, "rx"), "");
  assert.equal(deniedAccess(dir(0o750), VDSM, "rx"), "rx");
  assert.equal(deniedAccess(dir(0o750, 0, 107), VDSM, "rx"), "");
  assert.equal(deniedAccess(dir(0o705, 36, 0), VDSM, "x"), "");
  assert.equal(deniedAccess(dir(0o075, 36, 36), VDSM, "r"), "r");
  const root = { ...VDSM, name: "root", uid: 0, gid: 0, groups: [0] };
  assert.equal(deniedAccess(dir(0o000), root, "rwx"), "");
  assert.equal(deniedAccess({ ...dir(0o644), isDirectory: false }, root, "x"), "x");
  assert.deepEqual(parentsOf("/opt/nn/main.ts"), ["/", "/opt", "/opt/nn"]);
});

Deno.test("plan: access problems say who, what, where and how to fix it", () => {
  const [home] = accessProblems("the checkout /root/nn", [
    { facts: { path: "/root", isDirectory: true, mode: 0o700, uid: 0, gid: 0 }, need: "x" },
  ], VDSM);
  assert.match(home, /^user vdsm cannot search \(x\) \/root \(directory, mode 0700, owner 0:0\)/);
  assert.match(home, /move the checkout to e\.g\. \/opt\/network-nat/);
  const [file] = accessProblems("the checkout /opt/nn", [
    {
      facts: { path: "/opt/nn/lib/a.ts", isDirectory: false, mode: 0o600, uid: 0, gid: 0 },
      need: "r",
    },
  ], VDSM);
  assert.match(file, /cannot read \(r\) \/opt\/nn\/lib\/a\.ts .*chmod a\+r \/opt\/nn\/lib\/a\.ts/);
});

function runOf(before: string, after: string | undefined, code = 0, stderr = ""): SelfTestRun {
  return { code, stderr, before, after, milliseconds: 5 };
}

Deno.test("plan: the self-test passes only when both runs behave as VDSM needs", () => {
  const vnic = '<interface type="bridge"><source bridge="ovirtmgmt"/></interface>';
  const redirected = `<interface type="network"><source network="${SELFTEST_NETWORK}" ` +
    `portgroup="${SELFTEST_PORTGROUP}"/></interface>`;
  const quiet = runOf(vnic, vnic);
  const good = runOf(vnic, redirected, 0, "network-nat: vNIC -> network x\n");
  const point = "before_device_create";
  assert.ok(judgeSelfTest(point, "/h/p", quiet, good, true).pass);
  assert.match(judgeSelfTest(point, "/h/p", quiet, good, true).line, /^pass +before_device_create/);

  const changed = judgeSelfTest(point, "/h/p", runOf(vnic, redirected), good, true);
  assert.ok(!changed.pass);
  assert.match(changed.line, /^FAIL .*without extnet_pg: the device XML was changed/);
  const noisy = judgeSelfTest(point, "/h/p", runOf(vnic, vnic, 0, "hello\n"), good, true);
  assert.match(noisy.line, /unexpected output \(stderr: hello\)/);
  const refused = judgeSelfTest(
    point,
    "/h/p",
    quiet,
    runOf(vnic, vnic, 2, "network-nat: no\n"),
    true,
  );
  assert.match(refused.line, /exit code 2 \(stderr: network-nat: no\)/);
  const untouched = judgeSelfTest(point, "/h/p", quiet, runOf(vnic, vnic), true);
  assert.match(untouched.line, /the vNIC was not redirected/);
  const killed = judgeSelfTest(point, "/h/p", quiet, {
    ...quiet,
    code: null,
    failure: "killed by SIGKILL",
  }, true);
  assert.match(killed.line, /killed by SIGKILL/);

  const migrate = "before_device_migrate_destination";
  assert.ok(judgeSelfTest(migrate, "/h/p", quiet, runOf(vnic, vnic), true).pass);
  assert.ok(!judgeSelfTest(migrate, "/h/p", quiet, good, true).pass);

  const noVirsh = runOf(
    vnic,
    vnic,
    2,
    "network-nat: cannot check libvirt network: virsh is not installed\n",
  );
  const verdict = judgeSelfTest(point, "/h/p", quiet, noVirsh, false);
  assert.ok(verdict.pass);
  assert.match(verdict.line, /refused until virsh is on vdsmd's PATH/);
  assert.ok(!judgeSelfTest(point, "/h/p", quiet, good, false).pass);
});

Deno.test("plan: every action is one line", () => {
  const actions: Action[] = [
    ...plan(states({ kind: "missing" }, false)),
    ...plan(states({ kind: "file", executable: true }), true),
    ...plan(states({ kind: "other" })),
    ...plan(states({ kind: "link", target: "/opt/nn/main.ts", resolved: "/opt/nn/main.ts" })),
    { kind: "remove", path: "/h/p/x", target: "/opt/nn/main.ts" },
    { kind: "keep", path: "/h/p/x", reason: "not ours" },
  ];
  for (const action of actions) {
    for (const dryRun of [false, true]) {
      const line = describeAction(action, dryRun);
      assert.ok(!line.includes("\n"), line);
      if (dryRun && action.kind === "create") assert.match(line, /^would create /);
    }
  }
});

Deno.test("plan: the engine instructions hand the value to engine-config", () => {
  // The regex the helper declares accepts exactly what the hook does.
  for (const sample of ["ovs-net", "ovs-net:vlan-20", "a.b_c-1:x", "bad value", "a:", "a!b"]) {
    assert.equal(
      new RegExp(PROPERTY_REGEX).test(sample),
      parseTarget(sample) !== undefined,
      sample,
    );
  }
  const text = engineInstructions();
  assert.ok(text.includes("engine-config -g CustomDeviceProperties > cdp.txt"));
  assert.ok(text.includes("deno task engine-config cdp.txt"));
  assert.ok(
    !text.includes("engine-config -s CustomDeviceProperties="),
    "no value to paste blindly",
  );
  assert.ok(text.includes("No Network Filter"));
});

Deno.test("plan: the self-test samples match the property the self-test sets", () => {
  const node = Deno.readTextFileSync(`${CHECKOUT}/${SELFTEST_NODE_FILE}`);
  assert.ok(node.includes(`<name>${SELFTEST_NETWORK}</name>`));
  assert.ok(node.includes(`<portgroup name='${SELFTEST_PORTGROUP}'>`));
  assert.deepEqual(parseTarget(SELFTEST_PROPERTY), {
    network: SELFTEST_NETWORK,
    portgroup: SELFTEST_PORTGROUP,
  });
  const vnic = readInterface(Deno.readTextFileSync(`${CHECKOUT}/${SELFTEST_VNIC_FILE}`));
  assert.equal(vnic.unplugged, false);
  assert.ok(!vnic.text.includes("<filterref")); // an Open vSwitch target refuses filters
});

// ---------------------------------------------------------------------------
// install.ts as a process, against temporary hook roots
// ---------------------------------------------------------------------------

const DENO = Deno.execPath();
const ME = new TextDecoder().decode(
  new Deno.Command("id", { args: ["-un"], stdout: "piped" }).outputSync().stdout,
).trim();
const HAS_NOBODY = new Deno.Command("getent", { args: ["passwd", "nobody"], stdout: "null" })
  .outputSync().success;
const AM_ROOT = Deno.uid() === 0;
// Deno may live outside systemd's PATH here (e.g. ~/.deno/bin in CI); put it first.
const SERVICE_PATH = `${dirname(DENO)}:${SYSTEMD_PATH}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function install(args: string[], script = `${CHECKOUT}/install.ts`): Promise<Result> {
  const output = await new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-sys=uid",
      script,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function installInto(root: string, ...more: string[]): Promise<Result> {
  return install(["--hooks-dir", root, "--user", ME, "--service-path", SERVICE_PATH, ...more]);
}

/** A listing of everything under `dir`: path, kind and link target or content. */
function snapshot(dir: string): string[] {
  const lines: string[] = [];
  const walk = (path: string) => {
    for (const entry of [...Deno.readDirSync(path)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const full = `${path}/${entry.name}`;
      if (entry.isSymlink) lines.push(`${full} -> ${Deno.readLinkSync(full)}`);
      else if (entry.isDirectory) {
        lines.push(`${full}/`);
        walk(full);
      } else lines.push(`${full}: ${Deno.readTextFileSync(full)}`);
    }
  };
  walk(dir);
  return lines;
}

function linkOf(root: string, point: string): string | undefined {
  try {
    return Deno.readLinkSync(`${root}/${point}/${HOOK_NAME}`);
  } catch {
    return undefined;
  }
}

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nnat-install-test." });
  try {
    await fn(`${dir}/hooks`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

withVirsh.test("install: fresh install links every hook point, self-tests and prints the engine steps", async () => {
  await withRoot(async (root) => {
    const result = await installInto(root);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const point of HOOK_POINTS) {
      assert.equal(linkOf(root, point), Deno.realPathSync(MAIN));
      assert.match(result.stdout, new RegExp(`^created +${root}/${point}/${HOOK_NAME} -> `, "m"));
      assert.match(result.stdout, new RegExp(`^pass +${point} `, "m"));
      assert.equal(Deno.statSync(`${root}/${point}`).mode! & 0o777, 0o755);
    }
    assert.match(result.stdout, /^done: the hook is installed at 4 hook points/m);
    assert.match(result.stdout, /deno task engine-config cdp\.txt/);
    assert.equal(result.stderr, "");
  });
});

withVirsh.test("install: a second run changes nothing and says so", async () => {
  await withRoot(async (root) => {
    assert.equal((await installInto(root)).code, 0);
    const before = snapshot(root);
    const result = await installInto(root);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(snapshot(root), before);
    assert.doesNotMatch(result.stdout, /^created/m);
    assert.equal(result.stdout.match(/^unchanged .*\(already installed\)$/gm)?.length, 4);
    assert.match(result.stdout, /^nothing to do: the hook is already installed/m);
  });
});

Deno.test("install: a foreign file or link at the name is a conflict; nothing changes", async () => {
  await withRoot(async (root) => {
    Deno.mkdirSync(`${root}/before_nic_hotplug`, { recursive: true });
    Deno.mkdirSync(`${root}/before_update_device`, { recursive: true });
    Deno.writeTextFileSync(`${root}/before_nic_hotplug/${HOOK_NAME}`, "#!/bin/sh\nexit 0\n");
    Deno.symlinkSync("/usr/bin/true", `${root}/before_update_device/${HOOK_NAME}`);
    const before = snapshot(root);
    const result = await installInto(root);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(snapshot(root), before);
    assert.ok(
      result.stderr.includes(
        `refused:  ${root}/before_nic_hotplug/${HOOK_NAME} is a file, not a link to ${
          Deno.realPathSync(MAIN)
        }`,
      ),
      result.stderr,
    );
    assert.ok(
      result.stderr.includes(
        `${root}/before_update_device/${HOOK_NAME} is a link to /usr/bin/true`,
      ),
    );
    assert.match(result.stderr, /--force/);
    assert.match(result.stderr, /nothing was changed/);
    assert.match(result.stdout, /^would create /m);
  });
});

withVirsh.test("install: --force replaces a foreign entry and keeps it as a dot file", async () => {
  await withRoot(async (root) => {
    Deno.mkdirSync(`${root}/before_nic_hotplug`, { recursive: true });
    Deno.writeTextFileSync(`${root}/before_nic_hotplug/${HOOK_NAME}`, "foreign\n");
    const result = await installInto(root, "--force");
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(linkOf(root, "before_nic_hotplug"), Deno.realPathSync(MAIN));
    const backups = [...Deno.readDirSync(`${root}/before_nic_hotplug`)]
      .filter((e) => e.name.startsWith(`.${HOOK_NAME}.replaced-`));
    assert.equal(backups.length, 1);
    assert.equal(
      Deno.readTextFileSync(`${root}/before_nic_hotplug/${backups[0].name}`),
      "foreign\n",
    );
    assert.match(result.stdout, /^replaced .*\(was a file, kept as /m);
  });
});

withVirsh.test("install: --uninstall removes our links and leaves foreign files alone", async () => {
  await withRoot(async (root) => {
    assert.equal((await installInto(root)).code, 0);
    Deno.writeTextFileSync(`${root}/before_device_create/10_foreign`, "#!/bin/sh\n");
    Deno.chmodSync(`${root}/before_device_create/10_foreign`, 0o755);
    Deno.removeSync(`${root}/before_nic_hotplug/${HOOK_NAME}`);
    Deno.symlinkSync("/usr/bin/true", `${root}/before_nic_hotplug/${HOOK_NAME}`);
    Deno.mkdirSync(`${root}/after_vm_start`);
    Deno.symlinkSync(MAIN, `${root}/after_vm_start/60_stale`);

    const dry = await install(["--hooks-dir", root, "--uninstall", "--dry-run"]);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, /^would remove /m);
    assert.notEqual(linkOf(root, "before_device_create"), undefined);

    const result = await install(["--hooks-dir", root, "--uninstall"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const point of ["before_device_create", "before_update_device"]) {
      assert.equal(linkOf(root, point), undefined);
    }
    assert.equal(linkOf(root, "before_nic_hotplug"), "/usr/bin/true");
    assert.ok(Deno.statSync(`${root}/before_device_create/10_foreign`).isFile);
    assert.throws(() => Deno.lstatSync(`${root}/after_vm_start/60_stale`));
    assert.match(
      result.stdout,
      /^kept +.*before_nic_hotplug\/50_network_nat: a link to \/usr\/bin\/true/m,
    );
    assert.equal(result.stdout.match(/^removed /gm)?.length, 4);

    const again = await install(["--hooks-dir", root, "--uninstall"]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^nothing to do: no link into /m);
  });
});

Deno.test("install: --dry-run changes nothing", async () => {
  await withRoot(async (root) => {
    Deno.mkdirSync(root);
    const result = await installInto(root, "--dry-run");
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(snapshot(root), []);
    assert.equal(result.stdout.match(/^would create .*\(and its directory\)$/gm)?.length, 4);
    assert.match(result.stdout, /^dry run: nothing was changed/m);
    assert.doesNotMatch(result.stdout, /self-test/);
  });
});

Deno.test("install: a Deno not on vdsmd's PATH is refused with the fix", async () => {
  await withRoot(async (root) => {
    const result = await install([
      "--hooks-dir",
      root,
      "--user",
      ME,
      "--service-path",
      "/nonexistent/sbin:/nonexistent/bin",
    ]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /no deno on the PATH vdsmd runs with \(\/nonexistent\/sbin:/);
    assert.match(result.stderr, /install -m 0755 .* \/usr\/local\/bin\/deno/);
    assert.match(result.stdout, /warning: no virsh on the PATH vdsmd runs with/);
    assert.throws(() => Deno.statSync(root));
  });
});

Deno.test("install: a failed self-test rolls this run back", async () => {
  const bin = await Deno.makeTempDir({ prefix: "nnat-fake-deno." });
  try {
    Deno.writeTextFileSync(`${bin}/deno`, "#!/bin/sh\necho 'broken deno' >&2\nexit 1\n");
    Deno.chmodSync(`${bin}/deno`, 0o755);
    Deno.chmodSync(bin, 0o755);
    await withRoot(async (root) => {
      Deno.mkdirSync(`${root}/before_nic_hotplug`, { recursive: true });
      Deno.writeTextFileSync(`${root}/before_nic_hotplug/${HOOK_NAME}`, "foreign\n");
      const before = snapshot(root);
      const result = await install([
        "--hooks-dir",
        root,
        "--user",
        ME,
        "--force",
        "--service-path",
        `${bin}:${SYSTEMD_PATH}`,
      ]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, /^FAIL +before_device_create .*broken deno/m);
      assert.match(result.stdout, /^rollback: restored /m);
      assert.match(result.stderr, /self-test failed .* rolled back/);
      assert.deepEqual(snapshot(root), before);
    });
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("install: a failed step names its path; the rollback says only what it undid", async () => {
  await withRoot(async (root) => {
    // A hook point "folder" that is a dangling link: the installer sees no folder there, and
    // its mkdir fails after the other three hook points are done.
    Deno.mkdirSync(root);
    const blocked = `${root}/before_device_migrate_destination`;
    Deno.symlinkSync(`${root}/nowhere`, blocked);
    const result = await installInto(root);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`^failed: .*mkdir '${blocked}'$`, "m"));
    const rollback = result.stdout.split("\n").filter((line) => line.startsWith("rollback:"));
    const others = ["before_update_device", "before_nic_hotplug", "before_device_create"];
    assert.deepEqual(
      rollback,
      others.flatMap((point) => [
        `rollback: removed   ${root}/${point}/${HOOK_NAME}`,
        `rollback: removed   directory ${root}/${point}`,
      ]),
    );
    assert.deepEqual(snapshot(root), [`${blocked} -> ${root}/nowhere`]);
  });
});

Deno.test(needing(
  AM_ROOT ? (HAS_NOBODY ? missingCommands("setpriv") : "needs user nobody") : undefined,
  {
    name: "install: without root, it says first that it needs root, and what for",
    fn: async () => {
      await withRoot(async (root) => {
        // A hook root this user may not write in, as /usr/libexec is to a normal user.
        Deno.mkdirSync(root, { mode: 0o755 });
        Deno.chmodSync(`${root}/..`, 0o755);
        if (!AM_ROOT) Deno.chmodSync(root, 0o555);
        const checkout = readableCheckout();
        const asNobody = AM_ROOT
          ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
          : [];
        const [command, ...args] = [
          ...asNobody,
          DENO,
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env=INIT_CWD",
          "--allow-run",
          "--allow-sys=uid",
          `${checkout}install.ts`,
          "--hooks-dir",
          `${root}/vdsm/hooks`,
          "--service-path",
          SERVICE_PATH,
        ];
        const output = await new Deno.Command(command, {
          args,
          cwd: "/",
          env: { NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(output.stderr);
        const stdout = new TextDecoder().decode(output.stdout);
        assert.equal(output.code, 1, stdout + stderr);
        assert.match(
          stderr,
          new RegExp(`^refused:  this needs root: to write in ${root} \\(user \\S+ may not\\)`),
        );
        assert.match(
          stderr,
          /run it as root: sudo deno task install\nrefused: {2}nothing was changed\n$/,
        );
        assert.doesNotMatch(stdout, /^ok /m, "said before the other checks");
        if (!AM_ROOT) Deno.chmodSync(root, 0o755);
        assert.deepEqual(snapshot(root), []);
      });
    },
  },
));

Deno.test("install: another executable of this project in a hook folder is refused", async () => {
  await withRoot(async (root) => {
    Deno.mkdirSync(`${root}/after_vm_start`, { recursive: true });
    Deno.symlinkSync(MAIN, `${root}/after_vm_start/60_old_name`);
    const result = await installInto(root);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.ok(result.stderr.includes(`${root}/after_vm_start/60_old_name is a link to ${MAIN}`));
    assert.match(result.stderr, /--uninstall/);
  });
});

Deno.test({
  name: "install: a checkout the hook's user cannot read is refused, naming the path",
  ignore: AM_ROOT && !HAS_NOBODY,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nnat-checkout." });
    try {
      const copy = `${dir}/network-nat`;
      copyCheckout(copy);
      Deno.chmodSync(dir, 0o755);
      const real = Deno.realPathSync(copy);
      // Root reads everything, so as root the hook's user is nobody and a folder is closed;
      // otherwise the hook's user is this user and a file it owns is closed.
      const [user, closed, expected] = AM_ROOT
        ? ["nobody", real, `user nobody cannot search (x) ${real} (directory, mode 0700`]
        : [ME, `${real}/${SELFTEST_NODE_FILE}`, `user ${ME} cannot read (r) ${real}/`];
      Deno.chmodSync(closed, AM_ROOT ? 0o700 : 0o000);
      const root = `${dir}/hooks`;
      Deno.mkdirSync(root, { mode: 0o755 });
      const result = await install(
        ["--hooks-dir", root, "--user", user, "--service-path", SERVICE_PATH],
        `${copy}/install.ts`,
      );
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.ok(result.stderr.includes(`refused:  ${expected}`), result.stderr);
      assert.match(result.stderr, /chmod a\+r/);
      assert.deepEqual(snapshot(root), []);
    } finally {
      await new Deno.Command("chmod", { args: ["-R", "u+rwX", dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("install: bad options are refused with the usage", async () => {
  const result = await install(["--hooks-dri", "/tmp/x"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^refused: .*hooks-dri/);
  assert.match(result.stderr, /Usage: deno task install/);
  const help = await install(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--uninstall/);
});

Deno.test("the system-daemon check passes only on libvirt's own no-such-network answer", () => {
  const socket = "/run/libvirt/libvirt-sock-ro";
  const run = (code: number | null, stderr: string, failure?: string) => ({
    code,
    stderr,
    before: "",
    after: "",
    milliseconds: 25,
    failure,
  });
  const cases: [string, ReturnType<typeof run>, boolean, RegExp][] = [
    [
      "libvirt answered",
      run(2, `network-nat: libvirt network '${ABSENT_NETWORK}' does not exist on this host (...)`),
      true,
      /^ok {8}user vdsm reaches libvirt at \/run\/libvirt\/libvirt-sock-ro: .* \(25 ms\)$/,
    ],
    [
      "the socket refused the user",
      run(2, "network-nat: cannot check libvirt network 'x': libvirt at S refused this user"),
      false,
      /^warning: user vdsm did not get libvirt's answer .*: exit code 2 \(stderr: .*refused this user\)/,
    ],
    [
      "the hook did not run",
      run(null, "", "could not run setpriv: not found"),
      false,
      /: could not run setpriv: not found \(check libvirtd/,
    ],
  ];
  for (const [label, hookRun, pass, line] of cases) {
    const verdict = judgeSystemDaemonRun(hookRun, socket, "vdsm");
    assert.equal(verdict.pass, pass, label);
    assert.match(verdict.line, line, label);
  }
});
