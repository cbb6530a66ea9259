/**
 * Gathering, read-only, what `admin.ts doctor` checks on a host: the Deno on
 * vdsmd's PATH, the hook links, the hook user's access to the checkout, and
 * libvirt's networks as that user sees them. The verdicts are in `lib/doctor.ts`.
 *
 * @module
 */

import type { DenoFacts, DoctorFacts, LibvirtFacts, TargetFacts } from "../lib/doctor.ts";
import { HOOK_POINTS } from "../lib/hook.ts";
import {
  type AccessNeed,
  type Account,
  type Entry,
  type FoundEntry,
  HOOK_NAME,
  isProjectScript,
  joinPath,
  parentsOf,
  type PathFacts,
  type PointState,
} from "../lib/install_plan.ts";
import { type Network, parseNetworkReport } from "../lib/network.ts";
import { parseTarget } from "../lib/property.ts";
import { libvirtUri, lookupNetwork, VIRSH_TIMEOUT_MS } from "./virsh.ts";

/** What the doctor is asked to look at. */
export interface DoctorOptions {
  /** VDSM's hooks root. */
  hooksDir: string;
  /** The PATH vdsmd runs hooks with. */
  servicePath: string;
  /** The user VDSM runs hooks as. */
  user: string;
  /** An `extnet_pg` value to check the way the hook would. */
  value?: string;
}

/** The real path of this checkout. */
export function checkoutDir(): string {
  return Deno.realPathSync(new URL("../", import.meta.url).pathname);
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

function statOrUndefined(path: string, follow = true): Deno.FileInfo | undefined {
  try {
    return follow ? Deno.statSync(path) : Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

function head(path: string, bytes = 512): string {
  const file = Deno.openSync(path, { read: true });
  try {
    const buffer = new Uint8Array(bytes);
    const read = file.readSync(buffer) ?? 0;
    return new TextDecoder().decode(buffer.subarray(0, read));
  } finally {
    file.close();
  }
}

/** Finds the first executable file `name` in the folders of `path`. */
export function findOnPath(name: string, path: string): string | undefined {
  for (const dir of path.split(":")) {
    if (!dir.startsWith("/")) continue;
    const candidate = joinPath(dir, name);
    const info = statOrUndefined(candidate);
    if (info?.isFile && (info.mode ?? 0) & 0o111) return candidate;
  }
  return undefined;
}

/** Describes what is at `path`, without following a final link. */
export function entryAt(path: string): Entry {
  const info = statOrUndefined(path, false);
  if (!info) return { kind: "missing" };
  if (info.isSymlink) {
    const raw = Deno.readLinkSync(path);
    const target = raw.startsWith("/") ? raw : joinPath(path.replace(/\/[^/]*$/, ""), raw);
    let resolved: string | undefined;
    try {
      resolved = Deno.realPathSync(path);
    } catch {
      resolved = undefined;
    }
    return { kind: "link", target, resolved };
  }
  if (info.isFile) return { kind: "file", executable: ((info.mode ?? 0) & 0o111) !== 0 };
  if (info.isDirectory) return { kind: "directory" };
  return { kind: "other" };
}

function scanHookDirs(hooksDir: string): FoundEntry[] {
  const found: FoundEntry[] = [];
  let points: Deno.DirEntry[];
  try {
    points = [...Deno.readDirSync(hooksDir)];
  } catch {
    return found;
  }
  for (
    const point of points.filter((e) => e.isDirectory).sort((a, b) => a.name < b.name ? -1 : 1)
  ) {
    const dir = joinPath(hooksDir, point.name);
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const path = joinPath(dir, name);
      const info = statOrUndefined(path);
      const executable = info?.isFile === true && ((info.mode ?? 0) & 0o111) !== 0;
      let projectScript = false;
      if (info?.isFile) {
        try {
          projectScript = isProjectScript(head(path, 1024));
        } catch {
          projectScript = false;
        }
      }
      found.push({
        point: point.name,
        name,
        path,
        entry: entryAt(path),
        executable,
        projectScript,
      });
    }
  }
  return found;
}

function readTable(path: string): string[][] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(":"));
  } catch {
    return [];
  }
}

/** Looks a local account up in /etc/passwd and /etc/group, or returns `undefined`. */
export function findAccount(by: { name?: string; uid?: number }): Account | undefined {
  const row = readTable("/etc/passwd").find((fields) =>
    by.name !== undefined ? fields[0] === by.name : Number(fields[2]) === by.uid
  );
  if (!row) return undefined;
  const [name, , uid, gid, , home] = row;
  const groups = new Set([Number(gid)]);
  for (const [, , id, members = ""] of readTable("/etc/group")) {
    if (members.split(",").includes(name)) groups.add(Number(id));
  }
  return { name, uid: Number(uid), gid: Number(gid), groups: [...groups], home };
}

function pathFacts(path: string): PathFacts | undefined {
  const info = statOrUndefined(path);
  if (!info) return undefined;
  return {
    path,
    isDirectory: info.isDirectory,
    mode: (info.mode ?? 0) & 0o7777,
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
  };
}

// What the hook's user must reach: every folder down to the checkout, main.ts
// (run by sh, then read by Deno) and the modules it imports.
function accessNeeds(checkout: string, mainPath: string): AccessNeed[] {
  const needs: { path: string; need: string }[] = [
    ...parentsOf(mainPath).map((path) => ({ path, need: "x" })),
    { path: mainPath, need: "rx" },
  ];
  for (const dir of ["lib", "host"]) {
    needs.push({ path: joinPath(checkout, dir), need: "x" });
    try {
      for (const entry of Deno.readDirSync(joinPath(checkout, dir))) {
        if (entry.name.endsWith(".ts")) {
          needs.push({ path: joinPath(checkout, dir, entry.name), need: "r" });
        }
      }
    } catch { /* reported through the folder's own need */ }
  }
  return needs.flatMap(({ path, need }) => {
    const facts = pathFacts(path);
    return facts ? [{ facts, need }] : [];
  });
}

async function denoFacts(servicePath: string): Promise<DenoFacts> {
  const ownDeno = Deno.execPath();
  const path = findOnPath("deno", servicePath);
  if (!path) return { servicePath, ownDeno };
  try {
    const output = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(VIRSH_TIMEOUT_MS),
    }).output();
    const version = new TextDecoder().decode(output.stdout).split("\n")[0].trim();
    return output.success && version
      ? { servicePath, ownDeno, path, version }
      : { servicePath, ownDeno, path, versionError: `exit code ${output.code}` };
  } catch (error) {
    return { servicePath, ownDeno, path, versionError: errorText(error) };
  }
}

// Quotes a word for virsh's own command-line parser (like a POSIX shell's single quotes).
function virshWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** How to run virsh: directly, or as another user through `setpriv`. */
interface VirshRunner {
  user: string;
  run(commands: string): Promise<{ ok: boolean; stdout: string; error: string }>;
}

function virshRunner(uri: string, as: Account | undefined, servicePath: string): VirshRunner {
  const self = findAccount({ uid: Deno.uid() ?? -1 });
  const drop = as !== undefined && as.uid !== Deno.uid();
  return {
    user: drop ? as.name : self?.name ?? `uid ${Deno.uid()}`,
    async run(commands) {
      const virsh = ["virsh", "-r", "-c", uri, commands];
      const [command, ...args] = drop
        ? ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--init-groups", "--", ...virsh]
        : virsh;
      try {
        const output = await new Deno.Command(command, {
          args,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          ...(drop
            ? { clearEnv: true, env: { LC_ALL: "C", HOME: as.home, PATH: servicePath } }
            : { env: { LC_ALL: "C" } }),
          signal: AbortSignal.timeout(VIRSH_TIMEOUT_MS),
        }).output();
        const stderr = new TextDecoder().decode(output.stderr);
        const error = stderr.split("\n").map((l) => l.replace(/^error:\s*/, "").trim())
          .filter(Boolean).join("; ");
        return {
          ok: output.success,
          stdout: new TextDecoder().decode(output.stdout),
          error: error || `exit code ${output.code}`,
        };
      } catch (error) {
        return {
          ok: false,
          stdout: "",
          error: error instanceof Deno.errors.NotFound
            ? `${command} is not installed`
            : error instanceof DOMException && error.name === "TimeoutError"
            ? `no answer within ${VIRSH_TIMEOUT_MS / 1000} s (is libvirtd running?)`
            : errorText(error),
        };
      }
    },
  };
}

/**
 * Lists every libvirt network with two virsh runs: `net-list --all --name`,
 * then one `net-info; net-dumpxml` pair per network in a single run.
 */
async function listNetworks(runner: VirshRunner): Promise<{ networks: Network[]; error?: string }> {
  const list = await runner.run("net-list --all --name");
  if (!list.ok) return { networks: [], error: list.error };
  const names = list.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  if (names.length === 0) return { networks: [] };
  const report = await runner.run(
    names.map((n) => `net-info --network ${virshWord(n)}; net-dumpxml --network ${virshWord(n)}`)
      .join("; "),
  );
  if (!report.ok) return { networks: [], error: report.error };
  const chunks = report.stdout.split(/(?<=<\/network>)\n?/).filter((c) => c.trim());
  try {
    const networks = chunks.map(parseNetworkReport);
    const missing = names.filter((n) => !networks.some((network) => network.name === n));
    if (missing.length) return { networks, error: `no report for network ${missing.join(", ")}` };
    return { networks };
  } catch (error) {
    return { networks: [], error: errorText(error) };
  }
}

async function libvirtFacts(
  options: DoctorOptions,
  account: Account | undefined,
): Promise<LibvirtFacts> {
  const uri = libvirtUri();
  const runner = virshRunner(uri, Deno.uid() === 0 ? account : undefined, options.servicePath);
  let userNote: string | undefined;
  if (!account) {
    userNote =
      `user ${options.user} does not exist here; libvirt was checked as user ${runner.user}`;
  } else if (runner.user !== account.name) {
    userNote = `libvirt was checked as user ${runner.user}, not as ${account.name}: ` +
      "run doctor as root to check it as the hook's user";
  }
  const { networks, error } = await listNetworks(runner);
  return {
    uri,
    user: runner.user,
    userNote,
    virshPath: findOnPath("virsh", options.servicePath),
    error,
    networks,
  };
}

async function targetFacts(value: string): Promise<TargetFacts> {
  const target = parseTarget(value);
  if (!target) return { property: value };
  try {
    return { property: value, network: await lookupNetwork(target.network, libvirtUri()) };
  } catch (error) {
    if (error instanceof Error && error.name === "Refusal") {
      return { property: value, refusal: error.message };
    }
    throw error;
  }
}

/**
 * Gathers everything `doctor` checks, without changing anything on the host.
 *
 * @example
 * ```ts ignore
 * import { gatherDoctorFacts } from "./doctor_facts.ts";
 * const facts = await gatherDoctorFacts({
 *   hooksDir: "/usr/libexec/vdsm/hooks", servicePath: "/usr/sbin:/usr/bin", user: "vdsm",
 * });
 * ```
 */
export async function gatherDoctorFacts(options: DoctorOptions): Promise<DoctorFacts> {
  const checkout = checkoutDir();
  const mainPath = joinPath(checkout, "main.ts");
  let main: DoctorFacts["main"];
  try {
    main = { head: head(mainPath), mode: (Deno.statSync(mainPath).mode ?? 0) & 0o7777 };
  } catch (error) {
    main = { error: errorText(error) };
  }
  const hooksDirExists = statOrUndefined(options.hooksDir)?.isDirectory === true;
  const points: PointState[] = HOOK_POINTS.map((point) => ({
    point,
    directoryExists: statOrUndefined(joinPath(options.hooksDir, point))?.isDirectory === true,
    entry: entryAt(joinPath(options.hooksDir, point, HOOK_NAME)),
  }));
  const account = findAccount({ name: options.user });
  const [deno, libvirt, target] = await Promise.all([
    denoFacts(options.servicePath),
    libvirtFacts(options, account),
    options.value === undefined ? undefined : targetFacts(options.value),
  ]);
  return {
    checkoutDir: checkout,
    mainPath,
    main,
    deno,
    hooksDir: options.hooksDir,
    hooksDirExists,
    points,
    entries: scanHookDirs(options.hooksDir),
    user: options.user,
    account,
    access: accessNeeds(checkout, mainPath),
    libvirt,
    target,
  };
}
