/**
 * The decisions of `install.ts`, without any I/O: what to do at each hook point
 * given what is there, which files user `vdsm` cannot reach, whether a self-test
 * run passed, and every line the installer prints (including the engine-side
 * instructions).
 *
 * `install.ts` gathers the facts (through `host/hooks_dir.ts` and `host/system.ts`,
 * and runs of the hook) and hands them to these functions.
 *
 * @module
 */

import { HOOK_POINTS, type HookPoint } from "./hook.ts";
import {
  engineConfigSetCommand,
  formatCustomDeviceProperties,
  GET_COMMAND,
  RESTART_COMMAND,
  SECURITY_GROUPS_REGEX,
  withProperty,
} from "./engine_config.ts";
import { PROPERTY, PROPERTY_REGEX } from "./property.ts";

/** The file name of the hook in each hook point directory (VDSM runs them sorted by path). */
export const HOOK_NAME = "50_network_nat";

/** Where VDSM looks for hooks. */
export const DEFAULT_HOOKS_DIR = "/usr/libexec/vdsm/hooks";

/** The user VDSM runs hooks as. */
export const VDSM_USER = "vdsm";

/** The PATH systemd gives a service that sets none, such as vdsmd. */
export const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";

/** The test-driver node file of the self-test, relative to the checkout. */
export const SELFTEST_NODE_FILE = "samples/selftest-node.xml";

/** The sample vNIC of the self-test, relative to the checkout. */
export const SELFTEST_VNIC_FILE = "samples/vnic.xml";

/**
 * The same vNIC as the source host's live XML shows it once redirected, which
 * is what the hook sees at `before_device_migrate_destination`.
 */
export const SELFTEST_MIGRATING_VNIC_FILE = "samples/vnic-migrating.xml";

/** The libvirt network that {@linkcode SELFTEST_NODE_FILE} defines. */
export const SELFTEST_NETWORK = "nnat-selftest";

/** A portgroup of {@linkcode SELFTEST_NETWORK}. */
export const SELFTEST_PORTGROUP = "selftest";

/** The `extnet_pg` value the self-test sets. */
export const SELFTEST_PROPERTY = `${SELFTEST_NETWORK}:${SELFTEST_PORTGROUP}`;

/** The compatibility version the engine instructions use as their example. */
export const ENGINE_VERSION = "4.7";

/** What is found at a path: nothing, a symbolic link, or something else. */
export type Entry =
  | { kind: "missing" }
  | {
    kind: "link";
    /** The link's target made absolute (relative targets resolved against the link's folder). */
    target: string;
    /** The real path the link leads to, or `undefined` when it leads nowhere. */
    resolved?: string;
  }
  | { kind: "file"; executable: boolean }
  | { kind: "directory" }
  | { kind: "other" };

/** What is at one hook point: its directory and the entry named {@linkcode HOOK_NAME} in it. */
export interface PointState {
  point: HookPoint;
  /** Whether the hook point directory exists; when it does not, `entry` is `missing`. */
  directoryExists: boolean;
  entry: Entry;
}

/** One step of an installation or uninstallation; each is reported in one line. */
export type Action =
  | { kind: "create"; point: HookPoint; path: string; target: string; createDirectory: boolean }
  | { kind: "already"; point: HookPoint; path: string; target: string }
  | { kind: "conflict"; point: HookPoint; path: string; target: string; found: string }
  | {
    kind: "replace";
    point: HookPoint;
    path: string;
    target: string;
    found: string;
    /** Where the entry found is moved (a dot file, which VDSM never runs). */
    backup: string;
  }
  | { kind: "remove"; path: string; target: string }
  | { kind: "keep"; path: string; reason: string };

/** What {@linkcode planInstall} decides from. */
export interface InstallInput {
  hooksDir: string;
  /** The real path of the checkout's `main.ts`. */
  mainPath: string;
  /** The real path of the checkout. */
  checkoutDir: string;
  /** One state per hook point in {@linkcode HOOK_POINTS}. */
  points: readonly PointState[];
  /** Whether to replace whatever is at the hook's name. */
  force: boolean;
  /** Appended to backup names of replaced entries, e.g. a timestamp. */
  backupSuffix: string;
}

/**
 * Joins path parts with single slashes.
 *
 * @example
 * ```ts
 * import { joinPath } from "./install_plan.ts";
 * joinPath("/usr/libexec/vdsm/hooks/", "before_device_create"); // "/usr/libexec/vdsm/hooks/before_device_create"
 * ```
 */
export function joinPath(...parts: string[]): string {
  return parts.join("/").replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1");
}

/**
 * Tells whether `path` is `dir` or inside it (both absolute and normalized).
 *
 * @example
 * ```ts
 * import { isInside } from "./install_plan.ts";
 * isInside("/opt/network-nat/main.ts", "/opt/network-nat"); // true
 * isInside("/opt/network-nat2/main.ts", "/opt/network-nat"); // false
 * ```
 */
export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/**
 * Tells whether a link leads into the checkout, by its target or by its real path.
 *
 * @example
 * ```ts
 * import { linksInto } from "./install_plan.ts";
 * linksInto({ kind: "link", target: "/opt/nn/main.ts" }, "/opt/nn"); // true
 * ```
 */
export function linksInto(entry: Entry, checkoutDir: string): boolean {
  return entry.kind === "link" &&
    (isInside(entry.target, checkoutDir) ||
      (entry.resolved !== undefined && isInside(entry.resolved, checkoutDir)));
}

/**
 * Describes an entry for a message, e.g. "a link to /opt/x/main.ts".
 *
 * @example
 * ```ts
 * import { describeEntry } from "./install_plan.ts";
 * describeEntry({ kind: "file", executable: true }); // "an executable file"
 * ```
 */
export function describeEntry(entry: Entry): string {
  switch (entry.kind) {
    case "missing":
      return "nothing";
    case "link":
      return entry.resolved === undefined
        ? `a link to ${entry.target} (which does not exist)`
        : `a link to ${entry.target}`;
    case "file":
      return entry.executable ? "an executable file" : "a file";
    case "directory":
      return "a directory";
    case "other":
      return "a special file";
  }
}

/**
 * Decides, for each hook point, whether to create the link, leave it, replace
 * what is there (with `force`) or stop on a conflict.
 *
 * @example
 * ```ts
 * import { HOOK_POINTS } from "./hook.ts";
 * import { planInstall } from "./install_plan.ts";
 * const actions = planInstall({
 *   hooksDir: "/h",
 *   mainPath: "/opt/nn/main.ts",
 *   checkoutDir: "/opt/nn",
 *   points: HOOK_POINTS.map((point) => ({ point, directoryExists: true, entry: { kind: "missing" } })),
 *   force: false,
 *   backupSuffix: "1",
 * });
 * actions[0].kind; // "create"
 * ```
 */
export function planInstall(input: InstallInput): Action[] {
  return input.points.map(({ point, directoryExists, entry }): Action => {
    const path = joinPath(input.hooksDir, point, HOOK_NAME);
    const target = input.mainPath;
    if (entry.kind === "missing") {
      return { kind: "create", point, path, target, createDirectory: !directoryExists };
    }
    if (entry.kind === "link" && entry.resolved === input.mainPath) {
      return { kind: "already", point, path, target };
    }
    const found = describeEntry(entry) +
      (linksInto(entry, input.checkoutDir) ? " inside this checkout" : "");
    if (input.force && entry.kind !== "directory") {
      const backup = joinPath(
        input.hooksDir,
        point,
        `.${HOOK_NAME}.replaced-${input.backupSuffix}`,
      );
      return { kind: "replace", point, path, target, found, backup };
    }
    return { kind: "conflict", point, path, target, found };
  });
}

/** An entry in some hook point directory, found by scanning all of them. */
export interface FoundEntry {
  /** The hook point directory's name, e.g. `before_device_create`. */
  point: string;
  /** The file name in that directory. */
  name: string;
  path: string;
  entry: Entry;
  /** Whether it runs as an executable file (a link is judged by what it leads to). */
  executable: boolean;
  /** Whether its first bytes are this project's hook (see {@linkcode isProjectScript}). */
  projectScript: boolean;
}

/**
 * Decides what `--uninstall` removes: every link into the checkout, in any hook
 * point directory; everything else is kept. Entries at the hook's own name that
 * are not ours, and copies of the hook, are reported as kept.
 *
 * @example
 * ```ts
 * import { planUninstall } from "./install_plan.ts";
 * const [action] = planUninstall("/opt/nn", [{
 *   point: "before_device_create", name: "50_network_nat", path: "/h/before_device_create/50_network_nat",
 *   entry: { kind: "link", target: "/opt/nn/main.ts", resolved: "/opt/nn/main.ts" },
 *   executable: true, projectScript: true,
 * }]);
 * action.kind; // "remove"
 * ```
 */
export function planUninstall(checkoutDir: string, entries: readonly FoundEntry[]): Action[] {
  const actions: Action[] = [];
  for (const found of entries) {
    if (found.entry.kind === "link" && linksInto(found.entry, checkoutDir)) {
      actions.push({ kind: "remove", path: found.path, target: found.entry.target });
    } else if (isOurName(found)) {
      actions.push({
        kind: "keep",
        path: found.path,
        reason: `${describeEntry(found.entry)}, not a link into ${checkoutDir}`,
      });
    } else if (found.projectScript && found.executable) {
      actions.push({
        kind: "keep",
        path: found.path,
        reason: `${describeEntry(found.entry)} holding the network-nat hook, not a link into ` +
          `${checkoutDir}; VDSM runs it: remove it by hand`,
      });
    }
  }
  return actions;
}

function isOurName(found: FoundEntry): boolean {
  return found.name === HOOK_NAME && (HOOK_POINTS as readonly string[]).includes(found.point);
}

/**
 * Returns the executable files of this project in the hook directories other
 * than the hook's own links: VDSM would run them too.
 *
 * @example
 * ```ts
 * import { findStrays } from "./install_plan.ts";
 * findStrays([{
 *   point: "before_device_create", name: "60_old", path: "/h/before_device_create/60_old",
 *   entry: { kind: "file", executable: true }, executable: true, projectScript: true,
 * }]).length; // 1
 * ```
 */
export function findStrays(entries: readonly FoundEntry[]): FoundEntry[] {
  return entries.filter((found) =>
    !isOurName(found) && !found.name.startsWith(".") && found.executable && found.projectScript
  );
}

/**
 * Tells whether the first bytes of a file are this project's hook: the shell
 * preamble of `main.ts` naming network-nat.
 *
 * @example
 * ```ts
 * import { isProjectScript } from "./install_plan.ts";
 * isProjectScript('#!/bin/sh\n//bin/true; echo "network-nat: x"\n'); // true
 * isProjectScript("#!/bin/sh\nexit 0\n"); // false
 * ```
 */
export function isProjectScript(head: string): boolean {
  const [first, second = ""] = head.split("\n", 2);
  return first.startsWith("#!") && second.startsWith("//bin/true;") &&
    second.includes("network-nat");
}

/**
 * Checks the start of `main.ts` and its mode: it must be executable, run as a
 * shell script (`#!/bin/sh`) and carry the `//bin/true;` preamble. Returns the
 * problem, or `undefined`.
 *
 * @example
 * ```ts
 * import { mainScriptProblem } from "./install_plan.ts";
 * mainScriptProblem("/opt/nn/main.ts", "#!/bin/sh\n//bin/true; exit 0\n", 0o644);
 * // "/opt/nn/main.ts is not executable (mode 0644): run chmod 0755 /opt/nn/main.ts"
 * ```
 */
export function mainScriptProblem(path: string, head: string, mode: number): string | undefined {
  const [first, second = ""] = head.split("\n", 2);
  if (first !== "#!/bin/sh") {
    return `${path} does not start with '#!/bin/sh' (found ${
      JSON.stringify(first.slice(0, 40))
    }): ` +
      "restore it from git (git checkout -- main.ts)";
  }
  if (!second.startsWith("//bin/true;")) {
    return `${path} has no '//bin/true;' shell preamble on its second line: ` +
      "restore it from git (git checkout -- main.ts)";
  }
  if ((mode & 0o111) === 0) {
    return `${path} is not executable (mode ${octal(mode)}): run chmod 0755 ${path}`;
  }
  return undefined;
}

/** The identity a hook runs as. */
export interface Account {
  name: string;
  uid: number;
  /** The primary group. */
  gid: number;
  /** All groups, primary included. */
  groups: readonly number[];
  home: string;
}

/** What `stat` says about one path, as far as permissions go. */
export interface PathFacts {
  path: string;
  isDirectory: boolean;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Returns the letters of `need` (`r`, `w`, `x`) that the mode bits deny to
 * `account`, as the kernel checks them (owner, else group, else others; root
 * may read and write anything and execute any file with an `x` bit). ACLs and
 * SELinux are not considered.
 *
 * @example
 * ```ts
 * import { deniedAccess } from "./install_plan.ts";
 * const vdsm = { name: "vdsm", uid: 36, gid: 36, groups: [36], home: "/var/lib/vdsm" };
 * deniedAccess({ path: "/root", isDirectory: true, mode: 0o700, uid: 0, gid: 0 }, vdsm, "x"); // "x"
 * ```
 */
export function deniedAccess(facts: PathFacts, account: Account, need: string): string {
  const letters = [...need];
  if (account.uid === 0) {
    return letters.filter((l) => l === "x" && !facts.isDirectory && (facts.mode & 0o111) === 0)
      .join("");
  }
  const shift = facts.uid === account.uid ? 6 : account.groups.includes(facts.gid) ? 3 : 0;
  const bits = (facts.mode >> shift) & 0o7;
  const bit = { r: 4, w: 2, x: 1 } as Record<string, number>;
  return letters.filter((l) => (bits & bit[l]) === 0).join("");
}

/**
 * Lists the folders from `/` down to `path`'s parent, the folders a process
 * must be able to search (`x`) to reach `path`.
 *
 * @example
 * ```ts
 * import { parentsOf } from "./install_plan.ts";
 * parentsOf("/opt/nn/main.ts"); // ["/", "/opt", "/opt/nn"]
 * ```
 */
export function parentsOf(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  const parents = ["/"];
  for (let i = 1; i < parts.length; i++) parents.push(`/${parts.slice(0, i).join("/")}`);
  return parents;
}

/** A path and the access a user needs to it. */
export interface AccessNeed {
  facts: PathFacts;
  need: string;
}

/**
 * Returns one message per path `account` cannot use as needed, with the fix.
 * `what` names what the paths are for, e.g. "the checkout".
 *
 * @example
 * ```ts
 * import { accessProblems } from "./install_plan.ts";
 * const vdsm = { name: "vdsm", uid: 36, gid: 36, groups: [36], home: "/var/lib/vdsm" };
 * accessProblems("the checkout", [
 *   { facts: { path: "/root", isDirectory: true, mode: 0o700, uid: 0, gid: 0 }, need: "x" },
 * ], vdsm);
 * // ["user vdsm cannot search (x) /root (directory, mode 0700, owner 0:0), on the way to the checkout: ..."]
 * ```
 */
export function accessProblems(
  what: string,
  needs: readonly AccessNeed[],
  account: Account,
): string[] {
  const problems: string[] = [];
  for (const { facts, need } of needs) {
    const denied = deniedAccess(facts, account, need);
    if (!denied) continue;
    const verbs = [...denied].map((l) =>
      l === "r"
        ? "read (r)"
        : l === "w"
        ? "write (w)"
        : facts.isDirectory
        ? "search (x)"
        : "execute (x)"
    ).join(" or ");
    problems.push(
      `user ${account.name} cannot ${verbs} ${facts.path} ` +
        `(${facts.isDirectory ? "directory" : "file"}, mode ${octal(facts.mode)}, owner ` +
        `${facts.uid}:${facts.gid}), on the way to ${what}: ` +
        (isInside(facts.path, "/root") || isInside(facts.path, "/home")
          ? "move the checkout to e.g. /opt/network-nat and install from there"
          : `run chmod ${facts.isDirectory ? "a+rx" : need.includes("x") ? "a+rx" : "a+r"} ` +
            `${facts.path}` + (facts.isDirectory ? " (or chmod -R a+rX on the checkout)" : "")),
    );
  }
  return problems;
}

/**
 * The message when no executable `deno` is on the PATH vdsmd runs with.
 * `ownDeno` is the Deno running the installer.
 *
 * @example
 * ```ts
 * import { denoMissingMessage } from "./install_plan.ts";
 * denoMissingMessage("/usr/sbin:/usr/bin", "/root/.deno/bin/deno").startsWith("no deno"); // true
 * ```
 */
export function denoMissingMessage(servicePath: string, ownDeno: string): string {
  return `no deno on the PATH vdsmd runs with (${servicePath}); this Deno (${ownDeno}) is ` +
    "invisible to VDSM: copy the binary with 'install -m 0755 " + ownDeno +
    " /usr/local/bin/deno', or run 'npm install -g deno@2.9.6' with the distribution's npm " +
    "(it links /usr/bin/deno)";
}

/**
 * The warning when `virsh` is not on the PATH vdsmd runs with.
 *
 * @example
 * ```ts
 * import { virshMissingMessage } from "./install_plan.ts";
 * virshMissingMessage("/usr/bin").startsWith("warning:"); // true
 * ```
 */
export function virshMissingMessage(servicePath: string): string {
  return `warning: no virsh on the PATH vdsmd runs with (${servicePath}): the hook will ` +
    "refuse every redirect until it is there (install libvirt-client / libvirt-clients)";
}

/**
 * The message for a project script left where VDSM would run it.
 *
 * @example
 * ```ts
 * import { strayMessage } from "./install_plan.ts";
 * strayMessage({
 *   point: "before_device_create", name: "60_old", path: "/h/before_device_create/60_old",
 *   entry: { kind: "file", executable: true }, executable: true, projectScript: true,
 * }, "/opt/nn").includes("60_old"); // true
 * ```
 */
export function strayMessage(found: FoundEntry, checkoutDir: string): string {
  const how = found.entry.kind === "link" && linksInto(found.entry, checkoutDir)
    ? "remove it, or run 'deno task install --uninstall' first, which removes every link into " +
      checkoutDir
    : `remove it (rm ${found.path})`;
  return `${found.path} is ${describeEntry(found.entry)} holding the network-nat hook, ` +
    `which VDSM would run as well: ${how}`;
}

/**
 * Renders an action as the one line the installer prints for it.
 *
 * @example
 * ```ts
 * import { describeAction } from "./install_plan.ts";
 * describeAction({ kind: "remove", path: "/h/p/50_network_nat", target: "/opt/nn/main.ts" }, false);
 * // "removed   /h/p/50_network_nat -> /opt/nn/main.ts"
 * ```
 */
export function describeAction(action: Action, dryRun: boolean): string {
  const verb = (done: string, would: string) => (dryRun ? `would ${would}` : done).padEnd(9);
  switch (action.kind) {
    case "create":
      return `${verb("created", "create")} ${action.path} -> ${action.target}` +
        (action.createDirectory && dryRun ? " (and its directory)" : "");
    case "already":
      return `${"unchanged".padEnd(9)} ${action.path} -> ${action.target} (already installed)`;
    case "conflict":
      return `${"conflict".padEnd(9)} ${action.path} is ${action.found}, not a link to ` +
        `${action.target}: move it away, or rerun with --force to replace it`;
    case "replace":
      return `${verb("replaced", "replace")} ${action.path} (was ${action.found}, ` +
        `${dryRun ? "to be kept" : "kept"} as ${action.backup}) -> ${action.target}`;
    case "remove":
      return `${verb("removed", "remove")} ${action.path} -> ${action.target}`;
    case "keep":
      return `${verb("kept", "keep")} ${action.path}: ${action.reason}`;
  }
}

/** Whether an action changes anything on disk. */
export function changesDisk(action: Action): boolean {
  return action.kind === "create" || action.kind === "replace" || action.kind === "remove";
}

/** One run of an installed hook during the self-test. */
export interface SelfTestRun {
  /** The exit code, or `null` when killed by a signal or not started. */
  code: number | null;
  stderr: string;
  /** The device XML before the run. */
  before: string;
  /** The device XML after the run, or `undefined` when the file was gone. */
  after: string | undefined;
  milliseconds: number;
  /** Why the run could not start or was stopped, if so. */
  failure?: string;
}

/** The outcome of the self-test at one hook point. */
export interface SelfTestVerdict {
  pass: boolean;
  /** The one line to print. */
  line: string;
}

/**
 * Judges the two self-test runs of the hook installed at `point`: without
 * `extnet_pg` the file must stay byte-identical, silently; with it the vNIC must
 * be redirected to {@linkcode SELFTEST_PROPERTY} (at
 * `before_device_migrate_destination`, only checked: the file stays as it is).
 * Without virsh on vdsmd's PATH, the run with the property must be the hook's
 * refusal instead.
 *
 * @example
 * ```ts
 * import { judgeSelfTest } from "./install_plan.ts";
 * const same = { code: 0, stderr: "", before: "<a/>", after: "<a/>", milliseconds: 2 };
 * judgeSelfTest("before_device_migrate_destination", "/h/x", same, same, true).pass; // true
 * ```
 */
export function judgeSelfTest(
  point: HookPoint,
  path: string,
  without: SelfTestRun,
  withProperty: SelfTestRun,
  virshOnPath: boolean,
): SelfTestVerdict {
  const problems: string[] = [];
  const ran = (run: SelfTestRun, label: string) => {
    if (run.failure) problems.push(`${label}: ${run.failure}`);
    else if (run.code !== 0) problems.push(`${label}: exit code ${run.code}${stderrOf(run)}`);
    else return true;
    return false;
  };
  if (ran(without, `without ${PROPERTY}`)) {
    if (without.after !== without.before) {
      problems.push(`without ${PROPERTY}: the device XML was changed`);
    } else if (without.stderr.trim() !== "") {
      problems.push(`without ${PROPERTY}: unexpected output${stderrOf(without)}`);
    }
  }
  let note = "";
  const label = `with ${PROPERTY}=${SELFTEST_PROPERTY}`;
  if (!virshOnPath) {
    if (withProperty.code === 2 && /virsh/.test(withProperty.stderr)) {
      note = "; redirects are refused until virsh is on vdsmd's PATH";
    } else if (ran(withProperty, label)) {
      problems.push(`${label}: expected the hook to refuse without virsh`);
    }
  } else if (ran(withProperty, label)) {
    const source = `network="${SELFTEST_NETWORK}" portgroup="${SELFTEST_PORTGROUP}"`;
    if (point === "before_device_migrate_destination") {
      if (withProperty.after !== withProperty.before) {
        problems.push(`${label}: the device XML was changed (VDSM ignores it here)`);
      }
    } else if (withProperty.after === undefined || !withProperty.after.includes(source)) {
      problems.push(`${label}: the vNIC was not redirected${stderrOf(withProperty)}`);
    }
  }
  const timing = `${without.milliseconds} ms without ${PROPERTY}, ` +
    `${withProperty.milliseconds} ms with it`;
  if (problems.length === 0) {
    return { pass: true, line: `${"pass".padEnd(9)} ${point} (${path}): ${timing}${note}` };
  }
  return { pass: false, line: `${"FAIL".padEnd(9)} ${point} (${path}): ${problems.join("; ")}` };
}

function stderrOf(run: SelfTestRun): string {
  const text = run.stderr.trim().replace(/\s*\n\s*/g, " | ");
  return text ? ` (stderr: ${text.length > 300 ? `${text.slice(0, 300)}...` : text})` : "";
}

/**
 * The value of `CustomDeviceProperties` that declares `extnet_pg` next to the
 * engine's default `SecurityGroups` property.
 *
 * @example
 * ```ts
 * import { engineValue } from "./install_plan.ts";
 * engineValue().startsWith("{type=interface;prop={SecurityGroups="); // true
 * ```
 */
export function engineValue(): string {
  const defaults = [{
    type: "interface" as const,
    properties: [{ name: "SecurityGroups", regex: SECURITY_GROUPS_REGEX }],
  }];
  return formatCustomDeviceProperties(
    withProperty(defaults, "interface", PROPERTY, PROPERTY_REGEX),
  );
}

/**
 * What the admin does on the engine after installing the hook on every host,
 * as text to paste.
 *
 * @example
 * ```ts
 * import { engineInstructions } from "./install_plan.ts";
 * engineInstructions().includes("engine-config -s CustomDeviceProperties="); // true
 * ```
 */
export function engineInstructions(): string {
  return [
    "Next, on the engine machine (once, after the hook is on every host of the cluster):",
    "  1. Look at the current value. 'engine-config -s' replaces the whole value of one",
    "     compatibility version, it does not merge:",
    `       ${GET_COMMAND}`,
    `  2. For each compatibility version in use (${ENGINE_VERSION} below), if its value is still the`,
    "     default (only SecurityGroups), paste:",
    `       ${engineConfigSetCommand(ENGINE_VERSION, engineValue())}`,
    "     If it holds other properties, save the output of step 1 to a file and let",
    "     'deno task engine-config FILE' (in this checkout) print the commands that keep them.",
    "  3. Restart the engine:",
    `       ${RESTART_COMMAND}`,
    "Then, in the Administration Portal:",
    "  4. Network > VNIC Profiles > New (on the oVirt network the VMs use, in a data center of",
    "     that compatibility version); under Custom Properties choose",
    `     ${PROPERTY} and enter NETWORK or NETWORK:PORTGROUP - a libvirt network defined and`,
    "     active on every host (virsh -r net-list --all), with that portgroup.",
    "     For an Open vSwitch network, set Network Filter to 'No Network Filter'.",
    "  5. Give a VM's vNIC that profile; the hook redirects it at the next VM start or",
    "     hot-plug. When the hook refuses, the engine shows its 'network-nat: ...' line",
    "     as the error, and the host's /var/log/vdsm/vdsm.log has it too.",
  ].join("\n");
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}
