/**
 * The decisions of `install.ts`, without any I/O: what to do at each hook point
 * given what is there, and every line the installer prints (including the
 * engine-side instructions). Whether user `vdsm` can reach the files is in
 * `access.ts`, the self-test's verdict in `selftest.ts`.
 *
 * `install.ts` gathers the facts (through `admin/host/hooks_dir.ts` and `admin/host/system.ts`,
 * and runs of the hook) and hands them to these functions.
 *
 * @module
 */

import { isInside, octalMode } from "./access.ts";
import { GET_COMMAND } from "./engine_config.ts";
import { HOOK_POINTS, type HookPoint } from "../lib/hook.ts";
import { PROPERTY } from "../lib/property.ts";

/** The file name of the hook in each hook point directory (VDSM runs them sorted by path). */
export const HOOK_NAME = "50_network_nat";

/** Where VDSM looks for hooks. */
export const DEFAULT_HOOKS_DIR = "/usr/libexec/vdsm/hooks";

/** The user VDSM runs hooks as. */
export const VDSM_USER = "vdsm";

/** The PATH systemd gives a service that sets none, such as vdsmd. */
export const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";

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

// Whether a link leads into the checkout, by its target or by its real path.
function linksInto(entry: Entry, checkoutDir: string): boolean {
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
 * import { HOOK_POINTS } from "../lib/hook.ts";
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
    return `${path} is not executable (mode ${octalMode(mode)}): run chmod 0755 ${path}`;
  }
  return undefined;
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
 * Why an installer run needs root, or `undefined` when it does not: the
 * folders where links or hook point folders go that the invoking user may not
 * write, and the self-test's switch to the hook's user.
 *
 * @example
 * ```ts
 * import { rootNeededMessage } from "./install_plan.ts";
 * rootNeededMessage("alice", ["/usr/libexec"], "vdsm");
 * // "this needs root: to write in /usr/libexec (user alice may not), and to run the self-test as user vdsm; run it as root: sudo deno task install"
 * rootNeededMessage("alice", [], undefined); // undefined
 * ```
 */
export function rootNeededMessage(
  invoker: string,
  unwritable: readonly string[],
  hookUser: string | undefined,
): string | undefined {
  const reasons = [
    ...(unwritable.length
      ? [`to write in ${unwritable.join(", ")} (user ${invoker} may not)`]
      : []),
    ...(hookUser ? [`to run the self-test as user ${hookUser}`] : []),
  ];
  return reasons.length
    ? `this needs root: ${reasons.join(", and ")}; run it as root: sudo deno task install`
    : undefined;
}

/**
 * The warning when `virsh` is not on the PATH vdsmd runs with; `socket` is the
 * system daemon's socket, when the hook asks libvirt there without virsh.
 *
 * @example
 * ```ts
 * import { virshMissingMessage } from "./install_plan.ts";
 * virshMissingMessage("/usr/bin").startsWith("warning:"); // true
 * ```
 */
export function virshMissingMessage(servicePath: string, socket?: string): string {
  const noVirsh = `warning: no virsh on the PATH vdsmd runs with (${servicePath})`;
  return socket === undefined
    ? `${noVirsh}: the hook will refuse every redirect until it is there (install ` +
      "libvirt-client / libvirt-clients)"
    : `${noVirsh}: the hook does not need it (it asks libvirt at ${socket}), but the ` +
      "self-test below does (install libvirt-client / libvirt-clients)";
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

/**
 * Whether an action changes anything on disk.
 *
 * @example
 * ```ts
 * import { changesDisk } from "./install_plan.ts";
 * changesDisk({ kind: "keep", path: "/h/p/50_network_nat", reason: "not ours" }); // false
 * ```
 */
export function changesDisk(action: Action): boolean {
  return action.kind === "create" || action.kind === "replace" || action.kind === "remove";
}

/**
 * What the admin does on the engine after installing the hook on every host,
 * as text to paste. The values to set come from `deno task engine-config`,
 * which keeps the properties already declared (other hooks', `SecurityGroups`).
 *
 * @example
 * ```ts
 * import { engineInstructions } from "./install_plan.ts";
 * engineInstructions().includes("deno task engine-config cdp.txt"); // true
 * ```
 */
export function engineInstructions(): string {
  return [
    "Next, on the engine machine (once, after the hook is on every host of the cluster):",
    "  1. Save the current value of every compatibility version:",
    `       ${GET_COMMAND} > cdp.txt`,
    "  2. Copy cdp.txt here (or wherever this checkout is) and run, in this checkout:",
    "       deno task engine-config cdp.txt",
    "     and paste what it prints on the engine: an 'engine-config -s' for each compatibility",
    "     version that needs one, keeping every property already there ('engine-config -s'",
    "     replaces a version's whole value), then the engine restart.",
    "Then, in the Administration Portal:",
    "  3. Network > VNIC Profiles > New, on an oVirt VM network that carries no traffic",
    "     (used only for these profiles: if a live update fails, VDSM puts the vNIC back",
    "     on that network, see the README); under Custom",
    `     Properties choose ${PROPERTY} and enter NETWORK or NETWORK:PORTGROUP - a libvirt`,
    "     network defined and active on every host (virsh -r net-list --all), with that",
    "     portgroup. For an Open vSwitch network, set Network Filter to 'No Network Filter'.",
    "  4. Give a VM's vNIC that profile; the hook redirects it at the next VM start or",
    "     hot-plug. When the hook refuses, the engine shows its 'network-nat: ...' line",
    "     as the error, and the host's /var/log/vdsm/vdsm.log has it too.",
  ].join("\n");
}
