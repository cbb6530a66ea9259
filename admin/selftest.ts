/**
 * The self-test of the installer and the doctor: the samples it runs each
 * installed hook on, and the verdict on those runs. No I/O:
 * `admin/host/selftest_run.ts` runs the hook.
 *
 * @module
 */

import type { HookPoint } from "../lib/hook.ts";
import { PROPERTY } from "../lib/property.ts";

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

/** The outcome of the self-test at one hook point, also as a line without timings. */
export interface PointVerdict extends SelfTestVerdict {
  /** The line without its status column and timings, the same from one run to the next. */
  message: string;
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
 * import { judgeSelfTest } from "./selftest.ts";
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
): PointVerdict {
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
  const where = `${point} (${path})`;
  if (problems.length === 0) {
    return {
      pass: true,
      line: `${"pass".padEnd(9)} ${where}: ${timing}${note}`,
      message: `${where}: runs as VDSM would, without and with ${PROPERTY}${note}`,
    };
  }
  const message = `${where}: ${problems.join("; ")}`;
  return { pass: false, line: `${"FAIL".padEnd(9)} ${message}`, message };
}

/** A network name that `extnet_pg` accepts and no host defines. */
export const ABSENT_NETWORK = "nnat-selftest-absent";

/**
 * Judges the run of the installed hook against the system daemon (no
 * `LIBVIRT_DEFAULT_URI`) with `extnet_pg` naming {@linkcode ABSENT_NETWORK}:
 * libvirt's own "no such network" refusal proves that the hook's user reached
 * libvirt over `socket` and was answered; anything else says why it was not.
 * A failure is a warning: libvirtd may be down while the hook is installed.
 *
 * @example
 * ```ts
 * import { ABSENT_NETWORK, judgeSystemDaemonRun } from "./selftest.ts";
 * const run = { code: 2, before: "", after: "", milliseconds: 30,
 *   stderr: `network-nat: libvirt network '${ABSENT_NETWORK}' does not exist on this host` };
 * judgeSystemDaemonRun(run, "/run/libvirt/libvirt-sock-ro", "vdsm").pass; // true
 * ```
 */
export function judgeSystemDaemonRun(
  run: SelfTestRun,
  socket: string,
  user: string,
): SelfTestVerdict {
  if (run.code === 2 && run.stderr.includes(`'${ABSENT_NETWORK}' does not exist on this host`)) {
    return {
      pass: true,
      line: `${"ok".padEnd(9)} user ${user} reaches libvirt at ${socket}: the hook asks it ` +
        `without virsh (${run.milliseconds} ms)`,
    };
  }
  return {
    pass: false,
    line: `warning: user ${user} did not get libvirt's answer at ${socket}, so the hook will ` +
      `refuse every redirect: ${
        run.failure ?? `exit code ${run.code}${stderrOf(run)}`
      } (check libvirtd and the socket's access, e.g. auth_unix_ro in libvirtd.conf)`,
  };
}

function stderrOf(run: SelfTestRun): string {
  const text = run.stderr.trim().replace(/\s*\n\s*/g, " | ");
  return text ? ` (stderr: ${text.length > 300 ? `${text.slice(0, 300)}...` : text})` : "";
}
