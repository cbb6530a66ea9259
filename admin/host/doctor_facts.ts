/**
 * Gathering, read-only, what `admin.ts doctor` checks on a host: the Deno on
 * vdsmd's PATH, the hook links, the hook user's access to the checkout, the
 * installed hooks run once each as VDSM would (the installer's self-test), and
 * libvirt's networks and running VMs as that user sees them. The verdicts are in `admin/doctor.ts`.
 *
 * @module
 */

import type { Account } from "../access.ts";
import { errorText } from "../cli.ts";
import type {
  DenoFacts,
  DoctorFacts,
  LibvirtFacts,
  SelfTestFacts,
  TargetFacts,
} from "../doctor.ts";
import { HOOK_NAME, joinPath, type PointState } from "../install_plan.ts";
import { HOOK_POINTS } from "../../lib/hook.ts";
import { type Network, parseNetworkReport } from "../../lib/network.ts";
import { parseTarget } from "../../lib/property.ts";
import { Refusal } from "../../lib/refusal.ts";
import { liveDomainXmls } from "./domains.ts";
import { pointStates, scanHookDirs } from "./hooks_dir.ts";
import { inSelfTestDir, selfTestPoint } from "./selftest_run.ts";
import { readRunningVnics, type RunningVms } from "../placement.ts";
import {
  asUser,
  findOnPath,
  hookAccessNeeds,
  lookupAccount,
  pathFacts,
  readHead,
} from "./system.ts";
import { libvirtUri, runVirsh, VIRSH_TIMEOUT_MS, virshError } from "../../host/virsh.ts";
import { lookupNetwork, systemSocket } from "../../host/libvirt.ts";

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
  /** Whether to run the installed hooks once each, as the installer's self-test does. */
  selfTest: boolean;
}

// The real path of this checkout.
function checkoutDir(): string {
  return Deno.realPathSync(`${import.meta.dirname}/../..`);
}

async function denoFacts(servicePath: string): Promise<DenoFacts> {
  const ownDeno = Deno.execPath();
  const path = findOnPath("deno", servicePath);
  if (!path) return { servicePath, ownDeno };
  // The doctor task may run only the deno binaries of systemd's default PATH (see deno.json).
  if (Deno.permissions.querySync({ name: "run", command: path }).state !== "granted") {
    return {
      servicePath,
      ownDeno,
      path,
      versionError: "not checked: the doctor task may run deno only from systemd's default PATH",
    };
  }
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
  /** The command line that runs virsh as that user (empty: as this process). */
  runAs: string[];
  run(commands: string): Promise<{ ok: boolean; stdout: string; error: string }>;
}

async function virshRunner(
  uri: string,
  as: Account | undefined,
  servicePath: string,
): Promise<VirshRunner> {
  const drop = as !== undefined && as.uid !== Deno.uid();
  const self = drop ? undefined : await lookupAccount(String(Deno.uid()));
  // As the hook's user, with only what vdsmd gives it: env -i drops the rest of ours.
  const runAs = drop
    ? [
      ...asUser(as),
      ...["env", "-i", "LC_ALL=C", `HOME=${as.home}`, `PATH=${servicePath}`],
    ]
    : [];
  return {
    user: drop ? as.name : self?.name ?? `uid ${Deno.uid()}`,
    runAs,
    async run(commands) {
      try {
        const output = await runVirsh(commands, uri, runAs);
        return { ok: output.success, stdout: output.stdout, error: virshError(output.stderr) };
      } catch (error) {
        return { ok: false, stdout: "", error: errorText(error) };
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

// The running VMs' vNICs with extnet_pg, read the way the hook's user may read them.
async function runningVms(uri: string, runAs: string[]): Promise<RunningVms> {
  let xmls: string[];
  try {
    xmls = await liveDomainXmls(uri, runAs);
  } catch (error) {
    return { count: 0, vnics: [], errors: [errorText(error)] };
  }
  const vms: RunningVms = { count: xmls.length, vnics: [], errors: [] };
  for (const xml of xmls) {
    try {
      vms.vnics.push(...readRunningVnics(xml));
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      vms.errors.push(`virsh printed a domain XML that is not well-formed: ${error.message}`);
    }
  }
  return vms;
}

async function libvirtFacts(
  options: DoctorOptions,
  account: Account | undefined,
): Promise<LibvirtFacts & { vms?: RunningVms }> {
  const uri = libvirtUri();
  const runner = await virshRunner(
    uri,
    Deno.uid() === 0 ? account : undefined,
    options.servicePath,
  );
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
    socket: systemSocket(uri),
    error,
    networks,
    vms: error === undefined ? await runningVms(uri, runner.runAs) : undefined,
  };
}

// Runs the installed hooks as the installer's self-test does, when all link to this checkout.
async function selfTestFacts(
  options: DoctorOptions,
  checkout: string,
  mainPath: string,
  points: PointState[],
  account: Account | undefined,
): Promise<SelfTestFacts> {
  if (!options.selfTest) return { skipped: true, reason: "skipped (--no-self-test)" };
  const linked = points.filter(({ entry }) => entry.kind === "link" && entry.resolved === mainPath);
  if (linked.length < HOOK_POINTS.length) {
    return { skipped: true, reason: `not every hook point has ${HOOK_NAME} linked to ${mainPath}` };
  }
  const me = Deno.uid();
  if (account && account.uid !== me && me !== 0) {
    return { reason: `run doctor as root to run the installed hooks as user ${account.name}` };
  }
  const user = account ?? await lookupAccount(String(me));
  if (!user) return { reason: `cannot look up the running user (uid ${me}) with getent` };
  const switchUser = user.uid !== me;
  const host = {
    checkoutDir: checkout,
    hooksDir: options.hooksDir,
    servicePath: options.servicePath,
    account: user,
    switchUser,
    // setpriv without options runs the hook as this user: the doctor task may run setpriv,
    // not hook paths, which vary with --hooks-dir.
    runAs: switchUser ? asUser(user) : ["setpriv", "--"],
    virshOnPath: findOnPath("virsh", options.servicePath) !== undefined,
  };
  try {
    return {
      verdicts: await inSelfTestDir(host, async (tempDir) => {
        const verdicts = [];
        for (const point of HOOK_POINTS) {
          const { pass, message } = await selfTestPoint(host, point, tempDir);
          verdicts.push({ point, pass, message });
        }
        return verdicts;
      }),
    };
  } catch (error) {
    return { reason: `cannot make its temporary files in /tmp: ${errorText(error)}` };
  }
}

async function targetFacts(value: string): Promise<TargetFacts> {
  const target = parseTarget(value);
  if (!target) return { property: value };
  try {
    return { property: value, network: await lookupNetwork(target.network, libvirtUri()) };
  } catch (error) {
    if (error instanceof Refusal) {
      return { property: value, refusal: error.message };
    }
    throw error;
  }
}

/**
 * Gathers everything `doctor` checks, without changing anything on the host
 * (the self-test's temporary files in /tmp are removed after).
 *
 * @example
 * ```ts ignore
 * import { gatherDoctorFacts } from "./doctor_facts.ts";
 * const facts = await gatherDoctorFacts({
 *   hooksDir: "/usr/libexec/vdsm/hooks", servicePath: "/usr/sbin:/usr/bin", user: "vdsm",
 *   selfTest: true,
 * });
 * ```
 */
export async function gatherDoctorFacts(options: DoctorOptions): Promise<DoctorFacts> {
  const checkout = checkoutDir();
  const mainPath = joinPath(checkout, "main.ts");
  let main: DoctorFacts["main"];
  try {
    main = { head: readHead(mainPath), mode: (Deno.statSync(mainPath).mode ?? 0) & 0o7777 };
  } catch (error) {
    main = { error: errorText(error) };
  }
  const account = await lookupAccount(options.user);
  const points = pointStates(options.hooksDir);
  const [deno, { vms, ...libvirt }, target, selfTest] = await Promise.all([
    denoFacts(options.servicePath),
    libvirtFacts(options, account),
    options.value === undefined ? undefined : targetFacts(options.value),
    selfTestFacts(options, checkout, mainPath, points, account),
  ]);
  return {
    checkoutDir: checkout,
    mainPath,
    main,
    deno,
    hooksDir: options.hooksDir,
    hooksDirExists: pathFacts(options.hooksDir)?.isDirectory === true,
    points,
    entries: scanHookDirs(options.hooksDir),
    user: options.user,
    account,
    access: hookAccessNeeds(checkout, mainPath),
    selfTest,
    libvirt,
    vms,
    target,
  };
}
