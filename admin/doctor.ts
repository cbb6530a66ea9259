/**
 * The checks of `admin.ts doctor`, without any I/O: from facts gathered on a
 * host (see `admin/host/doctor_facts.ts`) to findings, each ok, warn or fail with
 * the fix, rendered as text for an admin or as JSON for automation.
 *
 * @module
 */

import { type AccessNeed, accessProblems, type Account } from "./access.ts";
import { HOOK_POINTS, type HookPoint, targetOf } from "../lib/hook.ts";
import {
  denoMissingMessage,
  describeEntry,
  findStrays,
  type FoundEntry,
  HOOK_NAME,
  joinPath,
  mainScriptProblem,
  type PointState,
  strayMessage,
} from "./install_plan.ts";
import { describeVlan, type Network, placeOnNetwork } from "../lib/network.ts";
import { formatTarget, PROPERTY } from "../lib/property.ts";
import { type RunningVms, vnicFindings } from "./placement.ts";
import { Refusal } from "../lib/refusal.ts";

/** How a check came out: `fail` breaks VM starts, `warn` may, `ok` does not. */
export type Status = "ok" | "warn" | "fail";

/** One line of the doctor's report. */
export interface Finding {
  /**
   * What was checked: `deno`, `virsh`, `hooks`, `main`, `access`, `selftest`, `libvirt`,
   * `network`, `vms`, `vnic`, `target`.
   */
  check: string;
  status: Status;
  /** What was found, one line. */
  message: string;
  /** What to do about it, when the status is not ok. */
  fix?: string;
}

/** The Deno that vdsmd would start, found on its PATH. */
export interface DenoFacts {
  /** The PATH vdsmd runs hooks with. */
  servicePath: string;
  /** The Deno running the doctor (`Deno.execPath()`). */
  ownDeno: string;
  /** The first executable `deno` on `servicePath`, if any. */
  path?: string;
  /** What `deno --version` printed first (e.g. `deno 2.9.6 (stable, ...)`), if it ran. */
  version?: string;
  /** Why `deno --version` could not run, if so. */
  versionError?: string;
}

/** How libvirt answered the read-only listing of its networks. */
export interface LibvirtFacts {
  /** The connection URI (the hook's: `LIBVIRT_DEFAULT_URI`, else `qemu:///system`). */
  uri: string;
  /** The user virsh ran as. */
  user: string;
  /** Why the user VDSM runs as could not be used (e.g. it does not exist), if so. */
  userNote?: string;
  /** The first executable `virsh` on vdsmd's PATH, if any. */
  virshPath?: string;
  /** The system daemon's socket, when the hook asks libvirt there rather than with virsh. */
  socket?: string;
  /** The error virsh gave, one line, when the listing failed. */
  error?: string;
  /** The networks, in the order `net-list --all --name` gave them. */
  networks: Network[];
}

/** The outcome of the hook's network lookup for the `--value` target. */
export interface TargetFacts {
  /** The `extnet_pg` value checked. */
  property: string;
  /** The network, when the lookup succeeded. */
  network?: Network;
  /** The hook's refusal of the lookup, when it failed. */
  refusal?: string;
}

/** How the installed hooks fared when run once each as VDSM would (see `admin/selftest.ts`). */
export interface SelfTestFacts {
  /** Each hook point's verdict, when the self-test ran. */
  verdicts?: { point: HookPoint; pass: boolean; message: string }[];
  /** Why it did not run, if so. */
  reason?: string;
  /** Whether it was left out on purpose (`--no-self-test`, or hook links not in place). */
  skipped?: boolean;
}

/** Everything the doctor looks at on a host. */
export interface DoctorFacts {
  /** The real path of the checkout. */
  checkoutDir: string;
  /** The real path of its `main.ts`. */
  mainPath: string;
  /** The first bytes of `main.ts` and its mode, or why it could not be read. */
  main: { head: string; mode: number } | { error: string };
  deno: DenoFacts;
  /** VDSM's hooks root. */
  hooksDir: string;
  /** Whether {@linkcode DoctorFacts.hooksDir} exists. */
  hooksDirExists: boolean;
  /** What is at {@linkcode HOOK_NAME} in each hook point directory. */
  points: PointState[];
  /** Every entry of every hook point directory (all directories under the hooks root). */
  entries: FoundEntry[];
  /** The name of the user VDSM runs hooks as (`vdsm`). */
  user: string;
  /** That user's account, when it exists. */
  account?: Account;
  /** The paths the hook's user must reach, and how. */
  access: AccessNeed[];
  /** The self-test of the installed hooks; absent when it was not asked for. */
  selfTest?: SelfTestFacts;
  libvirt: LibvirtFacts;
  /** The running VMs' vNICs with `extnet_pg`, when libvirt could be asked. */
  vms?: RunningVms;
  /** Set when `--value` asked to check one target. */
  target?: TargetFacts;
}

/**
 * Describes a libvirt network in one line: kind, state, portgroups with their VLANs.
 *
 * @example
 * ```ts
 * import { describeNetwork } from "./doctor.ts";
 * describeNetwork({
 *   name: "default", active: true, autostart: true, kind: "NAT", openvswitch: false, portgroups: [],
 * }); // "default: NAT, active, autostart, no portgroups"
 * ```
 */
export function describeNetwork(network: Network): string {
  const portgroups = network.portgroups.map((p) =>
    `${p.name}${p.isDefault ? " (default)" : ""}: ${describeVlan(p.vlan)}`
  );
  return `${network.name}: ${network.kind}, ${network.active ? "active" : "inactive"}, ` +
    `${network.autostart ? "autostart" : "no autostart"}` +
    (network.vlan ? `, network ${describeVlan(network.vlan)}` : "") +
    (portgroups.length ? `, portgroups ${portgroups.join("; ")}` : ", no portgroups");
}

// Splits "problem: fix" messages of install_plan.ts and access.ts at their last ": ".
function splitFix(text: string): [string, string | undefined] {
  const at = text.lastIndexOf(": ");
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 2)];
}

function networkFinding(network: Network): Finding {
  const message = describeNetwork(network);
  if (!network.active) {
    return {
      check: "network",
      status: "warn",
      message,
      fix: `vNICs redirected to it are refused: virsh net-start ${network.name} && ` +
        `virsh net-autostart ${network.name}`,
    };
  }
  if (!network.autostart) {
    return {
      check: "network",
      status: "warn",
      message,
      fix: `after a host reboot it stays down and VM starts on it fail: ` +
        `virsh net-autostart ${network.name}`,
    };
  }
  return { check: "network", status: "ok", message };
}

function denoFindings(deno: DenoFacts): Finding[] {
  if (deno.path === undefined) {
    return [{
      check: "deno",
      status: "fail",
      message: `no executable deno on vdsmd's PATH (${deno.servicePath}): every redirect fails`,
      fix: denoMissingMessage(deno.servicePath, deno.ownDeno).replace(/^.*?: /, ""),
    }];
  }
  if (deno.version === undefined) {
    return [{
      check: "deno",
      status: "warn",
      message: `${deno.path} is on vdsmd's PATH, but its version is unknown (${
        deno.versionError ?? "no output"
      })`,
      fix: `check that '${deno.path} --version' prints deno 2.x`,
    }];
  }
  const major = Number(/^deno (\d+)\./.exec(deno.version)?.[1]);
  if (!(major >= 2)) {
    return [{
      check: "deno",
      status: "fail",
      message: `${deno.path} on vdsmd's PATH is ${deno.version}, the hook needs Deno 2`,
      fix: "npm install -g deno@2.9.6 (or put a Deno 2 binary in /usr/local/bin)",
    }];
  }
  return [{
    check: "deno",
    status: "ok",
    message: `${deno.path} on vdsmd's PATH is ${deno.version}`,
  }];
}

function hookFindings(facts: DoctorFacts): Finding[] {
  if (!facts.hooksDirExists) {
    return [{
      check: "hooks",
      status: "fail",
      message: `${facts.hooksDir} does not exist (is VDSM installed on this host?)`,
      fix: "install vdsm, then 'deno task install'",
    }];
  }
  const findings: Finding[] = facts.points.map(({ point, directoryExists, entry }) => {
    const path = joinPath(facts.hooksDir, point, HOOK_NAME);
    if (entry.kind === "link" && entry.resolved === facts.mainPath) {
      return { check: "hooks", status: "ok", message: `${path} -> ${facts.mainPath}` };
    }
    return {
      check: "hooks",
      status: "fail",
      message: entry.kind === "missing"
        ? `${path} is missing${directoryExists ? "" : " (and its directory)"}: ` +
          `VDSM does not run the hook at ${point}`
        : `${path} is ${describeEntry(entry)}, not a link to ${facts.mainPath}`,
      fix: entry.kind === "missing"
        ? "deno task install"
        : "deno task install --force (keeps what is there as a dot file)",
    };
  });
  for (const stray of findStrays(facts.entries)) {
    const [problem, fix] = splitFix(strayMessage(stray, facts.checkoutDir));
    findings.push({ check: "hooks", status: "fail", message: problem, fix });
  }
  return findings;
}

function mainFindings(facts: DoctorFacts): Finding[] {
  if ("error" in facts.main) {
    return [{
      check: "main",
      status: "fail",
      message: `cannot read ${facts.mainPath}: ${facts.main.error}`,
      fix: "restore the checkout (git checkout -- main.ts)",
    }];
  }
  const problem = mainScriptProblem(facts.mainPath, facts.main.head, facts.main.mode);
  if (problem) {
    const [message, fix] = splitFix(problem);
    return [{ check: "main", status: "fail", message, fix }];
  }
  return [{
    check: "main",
    status: "ok",
    message: `${facts.mainPath} is executable with the shell preamble`,
  }];
}

function accessFindings(facts: DoctorFacts): Finding[] {
  if (!facts.account) {
    return [{
      check: "access",
      status: "warn",
      message: `user ${facts.user} does not exist here, so its access to the checkout ` +
        "was not checked",
      fix: "run doctor on a host with VDSM installed",
    }];
  }
  const problems = accessProblems("the checkout", facts.access, facts.account);
  if (problems.length === 0) {
    return [{
      check: "access",
      status: "ok",
      message: `user ${facts.account.name} can reach ${facts.checkoutDir} and read the hook`,
    }];
  }
  return problems.map((problem) => {
    const [message, fix] = splitFix(problem);
    return { check: "access", status: "fail", message, fix };
  });
}

function selfTestFindings(selfTest: SelfTestFacts): Finding[] {
  if (!selfTest.verdicts) {
    return selfTest.skipped
      ? []
      : [{ check: "selftest", status: "warn", message: `not run: ${selfTest.reason}` }];
  }
  return selfTest.verdicts.map(({ pass, message }) => ({
    check: "selftest",
    status: pass ? "ok" : "fail",
    // Without timings, so that a host's report changes only when the host does.
    message,
    fix: pass ? undefined : "fix what the line names (the run's exit code and stderr), " +
      "then check again with 'deno task doctor'",
  }));
}

function libvirtFindings(libvirt: LibvirtFacts, servicePath: string): Finding[] {
  const findings: Finding[] = [];
  const noVirsh = `no virsh on the PATH vdsmd runs with (${servicePath})`;
  findings.push(
    libvirt.virshPath !== undefined
      ? { check: "virsh", status: "ok", message: `${libvirt.virshPath} on vdsmd's PATH` }
      : libvirt.socket !== undefined
      ? {
        check: "virsh",
        status: "warn",
        message: `${noVirsh}: the hook does not need it (it asks libvirt at ${libvirt.socket}), ` +
          "but this report and the installer's self-test do",
        fix: "install libvirt-client (EL) or libvirt-clients (Debian)",
      }
      : {
        check: "virsh",
        status: "fail",
        message: `${noVirsh}: the hook refuses every redirect`,
        fix: "install libvirt-client (EL) or libvirt-clients (Debian)",
      },
  );
  if (libvirt.userNote) {
    findings.push({ check: "libvirt", status: "warn", message: libvirt.userNote });
  }
  if (libvirt.error !== undefined) {
    findings.push({
      check: "libvirt",
      status: "fail",
      message: `virsh -r -c ${libvirt.uri} as user ${libvirt.user} failed: ${libvirt.error}`,
      fix: "start libvirtd (systemctl start libvirtd) and check that polkit allows read-only " +
        `access, with 'virsh -r -c ${libvirt.uri} net-list --all' as that user`,
    });
    return findings;
  }
  findings.push({
    check: "libvirt",
    status: libvirt.networks.length ? "ok" : "warn",
    message: `read-only access to ${libvirt.uri} as user ${libvirt.user}: ` +
      `${libvirt.networks.length} network${libvirt.networks.length === 1 ? "" : "s"}`,
    fix: libvirt.networks.length ? undefined : "define the networks that vNIC profiles name in " +
      `${PROPERTY} (virsh net-define FILE; virsh net-start NAME; virsh net-autostart NAME)`,
  });
  findings.push(...libvirt.networks.map(networkFinding));
  return findings;
}

function targetFindings(target: TargetFacts): Finding[] {
  const fail = (message: string): Finding[] => [{
    check: "target",
    status: "fail",
    message: `${PROPERTY}=${target.property}: the hook would refuse: ${message}`,
  }];
  try {
    const wanted = targetOf(target.property);
    if (target.refusal !== undefined) return fail(target.refusal);
    if (!target.network) return fail("no network was looked up");
    const placement = placeOnNetwork(target.network, wanted);
    const where = `${target.network.kind}` +
      (placement.portgroup ? `, portgroup ${placement.portgroup.name}` : "") +
      `, ${describeVlan(placement.vlan)}`;
    const finding: Finding = {
      check: "target",
      status: "ok",
      message: `${PROPERTY}=${formatTarget(wanted)}: the hook would redirect vNICs to ${where}` +
        (placement.openvswitch ? " (Open vSwitch: vNIC profiles need 'No Network Filter')" : ""),
    };
    if (!target.network.autostart) {
      return [{
        ...finding,
        status: "warn",
        fix: `the network is not autostarted, so VM starts fail after a host reboot: ` +
          `virsh net-autostart ${target.network.name}`,
      }];
    }
    return [finding];
  } catch (error) {
    if (error instanceof Refusal) return fail(error.message);
    throw error;
  }
}

/**
 * Turns the facts gathered on a host into findings, in report order: Deno,
 * the hook links and script, the hook user's access, the self-test of the
 * installed hooks, libvirt and its networks,
 * the running vNICs that are not where their profile says, and the `--value` target.
 *
 * @example
 * ```ts
 * import { diagnose } from "./doctor.ts";
 * import { HOOK_POINTS } from "../lib/hook.ts";
 * const findings = diagnose({
 *   checkoutDir: "/opt/nn", mainPath: "/opt/nn/main.ts",
 *   main: { head: "#!/bin/sh\n//bin/true; network-nat\n", mode: 0o755 },
 *   deno: { servicePath: "/usr/bin", ownDeno: "/usr/bin/deno", path: "/usr/bin/deno", version: "deno 2.9.6" },
 *   hooksDir: "/h", hooksDirExists: true,
 *   points: HOOK_POINTS.map((point) => ({ point, directoryExists: true, entry: { kind: "missing" } })),
 *   entries: [], access: [], user: "vdsm",
 *   libvirt: { uri: "qemu:///system", user: "root", virshPath: "/usr/bin/virsh", networks: [] },
 * });
 * findings.filter((f) => f.status === "fail").length; // 4 (no hook links, no vdsm user is a warning)
 * ```
 */
export function diagnose(facts: DoctorFacts): Finding[] {
  return [
    ...denoFindings(facts.deno),
    ...hookFindings(facts),
    ...mainFindings(facts),
    ...accessFindings(facts),
    ...(facts.selfTest ? selfTestFindings(facts.selfTest) : []),
    ...libvirtFindings(facts.libvirt, facts.deno.servicePath),
    ...(facts.vms ? vnicFindings(facts.vms, facts.libvirt.networks) : []),
    ...(facts.target ? targetFindings(facts.target) : []),
  ];
}

/**
 * Counts findings by status.
 *
 * @example
 * ```ts
 * import { summarize } from "./doctor.ts";
 * summarize([{ check: "deno", status: "warn", message: "x" }]); // { ok: 0, warn: 1, fail: 0 }
 * ```
 */
export function summarize(findings: readonly Finding[]): Record<Status, number> {
  const counts = { ok: 0, warn: 0, fail: 0 };
  for (const finding of findings) counts[finding.status]++;
  return counts;
}

const COLOURS: Record<Status, string> = { ok: "\x1b[32m", warn: "\x1b[33m", fail: "\x1b[1;31m" };

/**
 * Renders findings for a terminal or a log: one line per finding (`ok`, `warn`
 * or `FAIL`, the check, the message), the fix indented below it, and a summary.
 *
 * @example
 * ```ts
 * import { renderFindings } from "./doctor.ts";
 * renderFindings([{ check: "deno", status: "ok", message: "/usr/bin/deno is deno 2.9.6" }]);
 * // "ok    deno     /usr/bin/deno is deno 2.9.6\n\n1 ok, 0 warnings, 0 failures\n"
 * ```
 */
export function renderFindings(findings: readonly Finding[], colour = false): string {
  const lines = findings.flatMap((finding) => {
    const label = (finding.status === "fail" ? "FAIL" : finding.status).padEnd(5);
    const status = colour ? `${COLOURS[finding.status]}${label}\x1b[0m` : label;
    const line = `${status} ${finding.check.padEnd(8)} ${finding.message}`;
    return finding.fix ? [line, `${" ".repeat(15)}fix: ${finding.fix}`] : [line];
  });
  const { ok, warn, fail } = summarize(findings);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${lines.join("\n")}\n\n${ok} ok, ${plural(warn, "warning")}, ${
    plural(fail, "failure")
  }\n`;
}

/**
 * The version of the `doctor --json` report's format: raised whenever a field is
 * removed or changes meaning (adding a field keeps it), so that `fleet` can tell
 * a report it cannot read from one it can.
 */
export const REPORT_FORMAT = 1;

/** What is at the hook's name in a hook point directory, as the JSON report says it. */
export type LinkState = "linked" | "missing" | "other";

/** The self-test as the JSON report says it. */
export interface SelfTestState {
  /** Whether the installed hooks were run. */
  ran: boolean;
  /** Per hook point run: whether its hook passed. */
  points: Partial<Record<HookPoint, "pass" | "fail">>;
  /** Why the self-test did not run, if so. */
  reason?: string;
}

/**
 * The host-level part of the JSON report that `fleet` compares across hosts:
 * the host's name, how libvirt answered, and the hook's state.
 */
export interface HostState {
  /** The host's name (`--host-name`, else the system's host name). */
  host: string;
  libvirt: { uri: string; user: string; error?: string };
  hook: {
    /** The real path of the checkout the doctor ran from. */
    checkout: string;
    hooksDir: string;
    /** Per hook point: linked to this checkout's main.ts, missing, or something else. */
    links: Record<string, LinkState>;
    /** The Deno on vdsmd's PATH: its path and `deno --version`'s first line, when known. */
    deno: { path?: string; version?: string };
    /** The self-test; absent from reports of versions before it. */
    selfTest?: SelfTestState;
  };
}

/**
 * Picks from the doctor's facts the host-level state of the JSON report.
 *
 * @example
 * ```ts
 * import { hostState } from "./doctor.ts";
 * import { HOOK_POINTS } from "../lib/hook.ts";
 * const state = hostState("hv1", {
 *   checkoutDir: "/opt/nn", mainPath: "/opt/nn/main.ts", main: { head: "", mode: 0o755 },
 *   deno: { servicePath: "/usr/bin", ownDeno: "/usr/bin/deno", path: "/usr/bin/deno", version: "deno 2.9.6" },
 *   hooksDir: "/h", hooksDirExists: true,
 *   points: HOOK_POINTS.map((point) => ({ point, directoryExists: true, entry: { kind: "missing" } })),
 *   entries: [], access: [], user: "vdsm",
 *   libvirt: { uri: "qemu:///system", user: "root", virshPath: "/usr/bin/virsh", networks: [] },
 * });
 * state.hook.links.before_device_create; // "missing"
 * state.hook.selfTest?.ran; // false
 * ```
 */
export function hostState(host: string, facts: DoctorFacts): HostState {
  const links: Record<string, LinkState> = {};
  for (const { point, entry } of facts.points) {
    links[point] = entry.kind === "missing"
      ? "missing"
      : entry.kind === "link" && entry.resolved === facts.mainPath
      ? "linked"
      : "other";
  }
  const { uri, user, error } = facts.libvirt;
  const selfTest: SelfTestState = {
    ran: facts.selfTest?.verdicts !== undefined,
    points: Object.fromEntries(
      (facts.selfTest?.verdicts ?? []).map(({ point, pass }) => [point, pass ? "pass" : "fail"]),
    ),
    reason: facts.selfTest?.verdicts ? undefined : facts.selfTest?.reason ?? "not asked for",
  };
  return {
    host,
    libvirt: { uri, user, error },
    hook: {
      checkout: facts.checkoutDir,
      hooksDir: facts.hooksDir,
      links,
      deno: { path: facts.deno.path, version: facts.deno.version },
      selfTest,
    },
  };
}

/**
 * Renders findings as JSON for automation: `{ format, host, ok, summary, findings,
 * networks, hookPoints, vnics, libvirt, hook }`, where `ok` is false when any check
 * failed, `vnics` lists the running vNICs with `extnet_pg` (see `placement.ts`), and
 * `format` and the host-level fields come with `state`.
 *
 * @example
 * ```ts
 * import { renderJson } from "./doctor.ts";
 * JSON.parse(renderJson([{ check: "deno", status: "fail", message: "x" }], [])).ok; // false
 * ```
 */
export function renderJson(
  findings: readonly Finding[],
  networks: readonly Network[],
  vnics: readonly object[] = [],
  state?: HostState,
): string {
  const summary = summarize(findings);
  return JSON.stringify(
    {
      ...(state ? { format: REPORT_FORMAT, host: state.host } : {}),
      ok: summary.fail === 0,
      summary,
      findings,
      networks,
      hookPoints: HOOK_POINTS,
      vnics,
      ...(state ? { libvirt: state.libvirt, hook: state.hook } : {}),
    },
    null,
    2,
  ) + "\n";
}
