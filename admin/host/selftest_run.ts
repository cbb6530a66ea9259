/**
 * Runs the hook installed at each hook point once, as VDSM would: as its user,
 * cwd /, a clean environment with vdsmd's PATH, a temporary `_hook_domxml` in
 * /tmp holding the sample vNIC, against the test-driver node of the self-test.
 * Shared by `install.ts` (after linking) and `admin.ts doctor` (read-only for
 * the host: only its own temporary files, removed after). The verdicts are in
 * `admin/selftest.ts`.
 *
 * @module
 */

import type { Account } from "../access.ts";
import { errorText } from "../cli.ts";
import { HOOK_NAME, joinPath } from "../install_plan.ts";
import {
  judgeSelfTest,
  type PointVerdict,
  SELFTEST_MIGRATING_VNIC_FILE,
  SELFTEST_NODE_FILE,
  SELFTEST_PROPERTY,
  SELFTEST_VNIC_FILE,
  type SelfTestRun,
} from "../selftest.ts";
import { type HookPoint, hookPointOf } from "../../lib/hook.ts";

/** Where and how the self-test runs the installed hooks. */
export interface SelfTestHost {
  /** The checkout holding the samples. */
  checkoutDir: string;
  /** VDSM's hooks root. */
  hooksDir: string;
  /** The PATH vdsmd runs hooks with. */
  servicePath: string;
  /** The user the hooks run as. */
  account: Account;
  /** Whether that user is another one than this process's (then files are chowned to it). */
  switchUser: boolean;
  /** The command line that runs a hook as that user, before the hook's path (empty: directly). */
  runAs: string[];
  /** Whether virsh is on {@linkcode SelfTestHost.servicePath}. */
  virshOnPath: boolean;
}

const SELFTEST_TIMEOUT_MS = 120_000;
const VM_ID = "6f3b0c2a-6a3e-4d55-9a1e-2d3c4b5a6978";

/**
 * Runs `run` with a fresh folder in /tmp that the hooks' user owns, and removes
 * the folder after.
 *
 * @example
 * ```ts ignore
 * import { inSelfTestDir } from "./selftest_run.ts";
 * await inSelfTestDir(host, (dir) => selfTestPoint(host, "before_device_create", dir));
 * ```
 */
export async function inSelfTestDir<T>(
  host: SelfTestHost,
  run: (tempDir: string) => Promise<T>,
): Promise<T> {
  // In /tmp, as VDSM's own temp files are: a private $TMPDIR of root's may be closed to vdsm.
  const tempDir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "network-nat-selftest." });
  try {
    if (host.switchUser) Deno.chownSync(tempDir, host.account.uid, host.account.gid);
    return await run(tempDir);
  } finally {
    Deno.removeSync(tempDir, { recursive: true });
  }
}

/**
 * Runs the hook at `path` once, as VDSM would, on a fresh copy of the sample
 * vNIC in `tempDir`, with `extnet_pg` set to `property` unless undefined;
 * `systemDaemon` leaves `LIBVIRT_DEFAULT_URI` unset, so that the hook asks the
 * system daemon.
 *
 * @example
 * ```ts ignore
 * import { runHookOnce } from "./selftest_run.ts";
 * (await runHookOnce(host, "/usr/libexec/vdsm/hooks/before_device_create/50_network_nat", dir,
 *   undefined)).code; // 0
 * ```
 */
export async function runHookOnce(
  host: SelfTestHost,
  path: string,
  tempDir: string,
  property: string | undefined,
  systemDaemon = false,
): Promise<SelfTestRun> {
  const { account } = host;
  const sample = hookPointOf(path) === "before_device_migrate_destination"
    ? SELFTEST_MIGRATING_VNIC_FILE
    : SELFTEST_VNIC_FILE;
  const before = Deno.readTextFileSync(joinPath(host.checkoutDir, sample));
  const file = Deno.makeTempFileSync({ dir: tempDir, prefix: "tmp" });
  Deno.writeTextFileSync(file, before);
  Deno.chmodSync(file, 0o600);
  if (host.switchUser) Deno.chownSync(file, account.uid, account.gid);
  const env: Record<string, string> = {
    PATH: host.servicePath,
    HOME: account.home,
    // libvirt reads the URI's path percent-encoded (a raw space is refused).
    LIBVIRT_DEFAULT_URI: `test://${
      joinPath(host.checkoutDir, SELFTEST_NODE_FILE).split("/").map(encodeURIComponent).join("/")
    }`,
    _hook_domxml: file,
    vmId: VM_ID,
  };
  // Without LIBVIRT_DEFAULT_URI the hook asks the system daemon, as under VDSM.
  if (systemDaemon) delete env.LIBVIRT_DEFAULT_URI;
  if (property !== undefined) env.extnet_pg = property;
  const [command, ...args] = [...host.runAs, path];
  const start = performance.now();
  try {
    const output = await new Deno.Command(command, {
      args,
      clearEnv: true,
      env,
      cwd: "/",
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(SELFTEST_TIMEOUT_MS),
    }).output();
    const milliseconds = Math.round(performance.now() - start);
    let after: string | undefined;
    try {
      after = Deno.readTextFileSync(file);
    } catch {
      after = undefined;
    }
    return {
      code: output.signal ? null : output.code,
      stderr: new TextDecoder().decode(output.stderr),
      before,
      after,
      milliseconds,
      failure: output.signal ? `killed by ${output.signal}` : undefined,
    };
  } catch (error) {
    return {
      code: null,
      stderr: "",
      before,
      after: undefined,
      milliseconds: Math.round(performance.now() - start),
      failure: `could not run ${command}: ${errorText(error)}`,
    };
  } finally {
    try {
      Deno.removeSync(file);
    } catch { /* the hook may have replaced it; the folder goes anyway */ }
  }
}

/**
 * Runs the hook installed at `point` without and with `extnet_pg`, and judges
 * the two runs (see `judgeSelfTest`).
 *
 * @example
 * ```ts ignore
 * import { inSelfTestDir, selfTestPoint } from "./selftest_run.ts";
 * const verdict = await inSelfTestDir(host, (dir) =>
 *   selfTestPoint(host, "before_device_create", dir));
 * verdict.pass; // true
 * ```
 */
export async function selfTestPoint(
  host: SelfTestHost,
  point: HookPoint,
  tempDir: string,
): Promise<PointVerdict> {
  const path = joinPath(host.hooksDir, point, HOOK_NAME);
  const without = await runHookOnce(host, path, tempDir, undefined);
  const withProperty = await runHookOnce(host, path, tempDir, SELFTEST_PROPERTY);
  return judgeSelfTest(point, path, without, withProperty, host.virshOnPath);
}
