/**
 * Installs the network-nat hook on a VDSM host: `deno task install` (as root).
 *
 * Links `50_network_nat` to this checkout's `main.ts` in each hook point
 * directory, after checking that VDSM's user can run it, then runs every
 * installed hook as VDSM would (and rolls back when one fails). The decisions
 * and messages live in `admin/install_plan.ts`, `admin/access.ts` and
 * `admin/selftest.ts`, the reading of the host in `admin/host/hooks_dir.ts` and
 * `admin/host/system.ts`, the self-test's runs in `admin/host/selftest_run.ts`;
 * this file makes the changes.
 *
 * Exit codes: 0 done or nothing to do; 1 refused or failed, with the reason.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { accessProblems, type Account, deniedAccess, parentsOf } from "./admin/access.ts";
import { errorText } from "./admin/cli.ts";
import { HOOK_POINTS } from "./lib/hook.ts";
import {
  type Action,
  changesDisk,
  DEFAULT_HOOKS_DIR,
  denoMissingMessage,
  describeAction,
  engineInstructions,
  findStrays,
  HOOK_NAME,
  joinPath,
  mainScriptProblem,
  planInstall,
  planUninstall,
  rootNeededMessage,
  strayMessage,
  SYSTEMD_PATH,
  VDSM_USER,
  virshMissingMessage,
} from "./admin/install_plan.ts";
import { ABSENT_NETWORK, judgeSystemDaemonRun, SELFTEST_NODE_FILE } from "./admin/selftest.ts";
import { pointStates, scanHookDirs } from "./admin/host/hooks_dir.ts";
import {
  inSelfTestDir,
  runHookOnce,
  type SelfTestHost,
  selfTestPoint,
} from "./admin/host/selftest_run.ts";
import { SYSTEM_SOCKETS, SYSTEM_URI, systemSocket } from "./host/libvirt.ts";
import {
  accessNeed,
  asUser,
  chainNeeds,
  findOnPath,
  hookAccessNeeds,
  lookupAccount,
  pathFacts,
  readHead,
} from "./admin/host/system.ts";

const USAGE = `Usage: deno task install [OPTIONS]

Links ${HOOK_NAME} to this checkout's main.ts at the hook points
${HOOK_POINTS.join(", ")},
checks that VDSM's user can run it, runs each installed hook once as VDSM would,
and prints what to do on the engine. Run it as root.

Options:
  --hooks-dir DIR      hook root (default ${DEFAULT_HOOKS_DIR})
  --force              replace whatever is at ${HOOK_NAME} (it is kept as a dot file)
  --uninstall          remove every link into this checkout from the hook directories
  --dry-run            print what would be done; change nothing
  --user NAME          the user VDSM runs hooks as (default ${VDSM_USER}; without
                       that user, the invoking user)
  --service-path PATH  the PATH vdsmd runs with (default systemd's ${SYSTEMD_PATH})
  -h, --help           this text

Exit codes: 0 done or nothing to do; 1 refused or failed, with the reason.`;

/** Raised for anything that stops the installer; the message is printed as is. */
class Stop extends Error {}

function say(line: string): void {
  console.log(line);
}

function refuse(lines: string[]): never {
  throw new Stop(lines.map((line) => `refused:  ${line}`).join("\n"));
}

interface Context extends SelfTestHost {
  mainPath: string;
  /** The user running the installer when not root (root may write anywhere). */
  invoker?: Account;
}

/** Runs every check; returns the problems, prints what is fine and the warnings. */
function runChecks(context: Context): string[] {
  const { checkoutDir, mainPath, hooksDir, servicePath, account } = context;
  const problems: string[] = [];
  const mainFacts = pathFacts(mainPath)!;
  const mainProblem = mainScriptProblem(mainPath, readHead(mainPath), mainFacts.mode);
  if (mainProblem) problems.push(mainProblem);

  const deno = findOnPath("deno", servicePath);
  if (!deno) {
    problems.push(denoMissingMessage(servicePath, Deno.execPath()));
  } else {
    const real = Deno.realPathSync(deno);
    const denoProblems = [
      ...accessProblems(`deno (${deno})`, chainNeeds(deno, "x"), account),
      ...(real === deno ? [] : accessProblems(`deno (${real})`, chainNeeds(real, "x"), account)),
    ];
    problems.push(...denoProblems);
    if (denoProblems.length === 0) {
      say(`ok        deno for vdsmd: ${deno}${real === deno ? "" : ` -> ${real}`}`);
    }
  }

  const virsh = findOnPath("virsh", servicePath);
  if (virsh) say(`ok        virsh for vdsmd: ${virsh}`);
  else say(virshMissingMessage(servicePath, systemSocket(SYSTEM_URI)));

  const checkoutNeeds = [
    ...hookAccessNeeds(checkoutDir, mainPath),
    ...accessNeed(joinPath(checkoutDir, SELFTEST_NODE_FILE), "r"),
  ];
  const checkoutProblems = accessProblems(`the checkout ${checkoutDir}`, checkoutNeeds, account);
  problems.push(...checkoutProblems);
  if (checkoutProblems.length === 0) say(`ok        checkout readable by ${account.name}`);

  const hookNeeds = [
    ...chainNeeds(hooksDir, "rx"),
    ...HOOK_POINTS.flatMap((point) => accessNeed(joinPath(hooksDir, point), "rx")),
  ];
  const hookProblems = accessProblems(`the hook directories ${hooksDir}`, hookNeeds, account);
  problems.push(...hookProblems);
  for (const point of HOOK_POINTS) {
    const info = pathFacts(joinPath(hooksDir, point));
    if (info && !info.isDirectory) problems.push(`${joinPath(hooksDir, point)} is not a directory`);
  }

  const strays = findStrays(scanHookDirs(hooksDir));
  problems.push(...strays.map((stray) => strayMessage(stray, checkoutDir)));

  const home = pathFacts(account.home);
  if (!home?.isDirectory || deniedAccess(home, account, "wx")) {
    say(
      `warning: HOME ${account.home} of user ${account.name} is missing or not writable by ` +
        `${account.name}: Deno cannot keep its compile cache there, so every redirected vNIC ` +
        "costs ~150 ms more",
    );
  }
  return problems;
}

/** The folders the actions write in: each link's, or the nearest existing one above it. */
function writtenFolders(actions: readonly Action[]): string[] {
  const folders = actions.filter((action) => action.kind === "create" || action.kind === "replace")
    .map((action) => parentsOf(action.path).toReversed().find((dir) => pathFacts(dir))!);
  return [...new Set(folders)];
}

/** Carries out the actions; returns the steps that undo them, last first. */
function apply(actions: readonly Action[]): (() => string)[] {
  const undo: (() => string)[] = [];
  const link = (target: string, path: string) => {
    Deno.symlinkSync(target, path);
    undo.push(() => {
      Deno.removeSync(path);
      return `removed   ${path}`;
    });
  };
  try {
    for (const action of actions) {
      if (action.kind === "create") {
        // One folder at a time, so that an error names the one that failed, and the undo
        // step removes only what this run made.
        for (const dir of parentsOf(action.path).filter((path) => !pathFacts(path))) {
          Deno.mkdirSync(dir);
          undo.push(() => {
            Deno.removeSync(dir);
            return `removed   directory ${dir}`;
          });
          Deno.chmodSync(dir, 0o755); // whatever the umask
          say(`created   directory ${dir}`);
        }
        link(action.target, action.path);
      } else if (action.kind === "replace") {
        Deno.renameSync(action.path, action.backup);
        undo.push(() => {
          Deno.renameSync(action.backup, action.path);
          return `restored  ${action.path} from ${action.backup}`;
        });
        link(action.target, action.path);
      } else if (action.kind === "remove") {
        Deno.removeSync(action.path);
      }
      if (changesDisk(action)) say(describeAction(action, false));
    }
  } catch (error) {
    const readOnly = /Read-only file system|os error 30/.test(errorText(error));
    say(`error:    ${errorText(error)}`);
    rollBack(undo);
    throw new Stop(
      `failed:   ${errorText(error)}` +
        (readOnly
          ? "\nfailed:   the file system is read-only; on an image-based host make the hook " +
            "directory writable (or use --hooks-dir on a writable one VDSM reads)"
          : ""),
    );
  }
  return undo;
}

function rollBack(undo: (() => string)[]): void {
  for (const step of undo.toReversed()) {
    try {
      say(`rollback: ${step()}`);
    } catch (error) {
      say(`rollback: FAILED: ${errorText(error)}`);
    }
  }
}

/** Runs each installed hook without and with extnet_pg; returns whether all passed. */
async function selfTest(context: Context): Promise<boolean> {
  const who = context.switchUser ? `user ${context.account.name}` : `this user`;
  say(`self-test: running each installed hook as VDSM would, as ${who}, cwd /`);
  return await inSelfTestDir(context, async (tempDir) => {
    let passed = true;
    for (const point of HOOK_POINTS) {
      const verdict = await selfTestPoint(context, point, tempDir);
      say(verdict.line);
      passed &&= verdict.pass;
    }
    // The test driver above proves the hook runs; this proves its user reaches the real daemon.
    const socket = systemSocket(SYSTEM_URI);
    if (socket === undefined) {
      say(
        `warning: libvirt is not running here (no ${
          SYSTEM_SOCKETS.join(" or ")
        }): not checked whether user ${context.account.name} reaches it`,
      );
    } else {
      const path = joinPath(context.hooksDir, HOOK_POINTS[0], HOOK_NAME);
      say(
        judgeSystemDaemonRun(
          await runHookOnce(context, path, tempDir, ABSENT_NETWORK, true),
          socket,
          context.account.name,
        ).line,
      );
    }
    return passed;
  });
}

function reportCache(account: Account): void {
  const cache = joinPath(account.home, ".cache", "deno");
  if (pathFacts(cache)?.isDirectory) {
    say(`ok        Deno cache warmed for ${account.name} in ${cache}`);
  } else {
    say(
      `warning: no Deno cache at ${cache}: user ${account.name} cannot write its HOME, so ` +
        "every redirected vNIC pays the compile cost (~150 ms)",
    );
  }
}

function uninstall(checkoutDir: string, hooksDir: string, dryRun: boolean): number {
  const actions = planUninstall(checkoutDir, scanHookDirs(hooksDir));
  for (const action of actions) {
    if (action.kind === "remove" && !dryRun) {
      Deno.removeSync(action.path);
    }
    say(describeAction(action, dryRun));
  }
  if (!actions.some(changesDisk)) {
    say(`nothing to do: no link into ${checkoutDir} under ${hooksDir}`);
  } else if (!dryRun) {
    say(`done: the hook is uninstalled from ${hooksDir}; VDSM no longer runs it`);
  }
  return 0;
}

async function install(context: Context, force: boolean, dryRun: boolean): Promise<number> {
  say(
    `installing network-nat from ${context.checkoutDir} into ${context.hooksDir}, ` +
      `for user ${context.account.name}${dryRun ? " (dry run)" : ""}`,
  );
  const actions = planInstall({
    hooksDir: context.hooksDir,
    mainPath: context.mainPath,
    checkoutDir: context.checkoutDir,
    points: pointStates(context.hooksDir),
    force,
    backupSuffix: new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, ""),
  });
  const { invoker } = context;
  const rootNeeded = invoker && rootNeededMessage(
    invoker.name,
    writtenFolders(actions).filter((dir) => deniedAccess(pathFacts(dir)!, invoker, "wx")),
    context.switchUser ? context.account.name : undefined,
  );
  // Said first, before checks whose fixes would not help.
  if (rootNeeded && !dryRun) refuse([rootNeeded, "nothing was changed"]);
  const problems = [...(rootNeeded ? [rootNeeded] : []), ...runChecks(context)];
  const conflicts = actions.filter((action) => action.kind === "conflict");
  if (problems.length > 0 || conflicts.length > 0) {
    for (const action of actions) {
      if (action.kind !== "conflict") say(describeAction(action, true));
    }
    refuse([
      ...problems,
      ...conflicts.map((action) => describeAction(action, false).replace(/^conflict\s+/, "")),
      "nothing was changed",
    ]);
  }
  if (dryRun) {
    for (const action of actions) say(describeAction(action, true));
    say("dry run: nothing was changed");
    return 0;
  }
  for (const action of actions) {
    if (action.kind === "already") say(describeAction(action, false));
  }
  const undo = apply(actions);
  if (!(await selfTest(context))) {
    if (undo.length > 0) {
      rollBack(undo);
      throw new Stop(
        "failed:   the self-test failed (see above); this run's changes are rolled back",
      );
    }
    throw new Stop(
      "failed:   the self-test failed (see above); the links were there before this run and " +
        "are left in place: fix the problem, or remove them with --uninstall",
    );
  }
  reportCache(context.account);
  say(
    actions.some(changesDisk)
      ? `done: the hook is installed at ${HOOK_POINTS.length} hook points in ${context.hooksDir}`
      : `nothing to do: the hook is already installed at all ${HOOK_POINTS.length} hook points`,
  );
  say("");
  say(engineInstructions());
  return 0;
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        "hooks-dir": { type: "string", default: DEFAULT_HOOKS_DIR },
        force: { type: "boolean", default: false },
        uninstall: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        user: { type: "string" },
        "service-path": { type: "string", default: SYSTEMD_PATH },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`refused:  ${errorText(error)}\n\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    say(USAGE);
    return 0;
  }
  try {
    const checkoutDir = Deno.realPathSync(dirname(Deno.realPathSync(import.meta.filename!)));
    const mainPath = Deno.realPathSync(joinPath(checkoutDir, "main.ts"));
    // Relative to where `deno task` was started, not to the checkout it runs in.
    const hooksDir = resolve(Deno.env.get("INIT_CWD") ?? ".", values["hooks-dir"]);
    if (values.uninstall) {
      if (values.force) refuse(["--force does not go with --uninstall"]);
      return uninstall(checkoutDir, hooksDir, values["dry-run"]);
    }
    const myUid = Deno.uid();
    const me = await lookupAccount(String(myUid));
    if (!me) refuse([`cannot look up the invoking user (uid ${myUid}) with getent`]);
    let account = await lookupAccount(values.user ?? VDSM_USER);
    if (!account) {
      if (values.user !== undefined) refuse([`user ${values.user} does not exist`]);
      account = me;
      say(`note:     user ${VDSM_USER} does not exist here; checking as ${account.name}`);
    }
    const switchUser = account.uid !== myUid;
    const context: Context = {
      checkoutDir,
      mainPath,
      hooksDir,
      servicePath: values["service-path"],
      account,
      invoker: myUid === 0 ? undefined : me,
      switchUser,
      runAs: switchUser ? asUser(account) : [],
      virshOnPath: findOnPath("virsh", values["service-path"]) !== undefined,
    };
    return await install(context, values.force, values["dry-run"]);
  } catch (error) {
    if (error instanceof Stop) {
      console.error(error.message);
    } else {
      console.error(`failed:   ${errorText(error)}`);
    }
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
