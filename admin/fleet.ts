/**
 * `deno task fleet`, without any I/O: reads the `doctor --json` reports of a
 * cluster's hosts, compares their libvirt networks and hook state, and tells
 * which `extnet_pg` values would fail a VM start or refuse a migration on which
 * hosts. A VM can run on any host of its cluster, so every host needs the same
 * networks, portgroups, kinds and VLANs.
 *
 * @module
 */

import { HOOK_POINTS } from "../lib/hook.ts";
import { describeVlan, type Network, placeOnNetwork } from "../lib/network.ts";
import { PROPERTY } from "../lib/property.ts";
import { Refusal } from "../lib/refusal.ts";
import { type HostState, REPORT_FORMAT, type Status } from "./doctor.ts";

/**
 * A report that `fleet` cannot read; the message names the file and what to do.
 *
 * @example
 * ```ts
 * import { ReportError } from "./fleet.ts";
 * new ReportError("x").name; // "ReportError"
 * ```
 */
export class ReportError extends Error {
  override name = "ReportError";
}

/** One host's `doctor --json` report, as far as `fleet` reads it. */
export interface HostReport extends HostState {
  /** The file it was read from. */
  file: string;
  summary: Record<Status, number>;
  networks: Network[];
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Checks the report's shape field by field, so that a damaged report is named, not half-read.
function shapeProblem(report: Record<string, Json>): string | undefined {
  const vlanProblem = (vlan: Json, where: string) =>
    vlan === undefined ||
      (isObject(vlan) && typeof vlan.trunk === "boolean" && Array.isArray(vlan.tags) &&
        vlan.tags.every((tag) => isObject(tag) && Number.isInteger(tag.id)))
      ? undefined
      : `${where}.vlan is not a VLAN`;
  if (typeof report.host !== "string" || report.host === "") return "no host name";
  const summary = report.summary;
  if (!isObject(summary) || !["ok", "warn", "fail"].every((k) => typeof summary[k] === "number")) {
    return "no summary of ok, warn and fail counts";
  }
  for (const [i, network] of (report.networks as Json[]).entries()) {
    const where = `networks[${i}]`;
    if (
      !isObject(network) || typeof network.name !== "string" ||
      typeof network.kind !== "string" || !Array.isArray(network.portgroups) ||
      !["active", "autostart", "openvswitch"].every((k) => typeof network[k] === "boolean")
    ) return `${where} is not a network`;
    const problem = vlanProblem(network.vlan, where);
    if (problem) return problem;
    for (const [j, portgroup] of network.portgroups.entries()) {
      const at = `${where}.portgroups[${j}]`;
      if (
        !isObject(portgroup) || typeof portgroup.name !== "string" ||
        typeof portgroup.isDefault !== "boolean" || typeof portgroup.openvswitch !== "boolean"
      ) return `${at} is not a portgroup`;
      const problem = vlanProblem(portgroup.vlan, at);
      if (problem) return problem;
    }
  }
  const { libvirt, hook } = report;
  if (!isObject(libvirt) || typeof libvirt.uri !== "string") return "no libvirt connection";
  if (
    !isObject(hook) || !isObject(hook.links) || !isObject(hook.deno) ||
    typeof hook.hooksDir !== "string"
  ) return "no hook state";
  const selfTest = hook.selfTest;
  if (
    selfTest !== undefined &&
    (!isObject(selfTest) || typeof selfTest.ran !== "boolean" || !isObject(selfTest.points))
  ) return "hook.selfTest is not a self-test";
  return undefined;
}

/**
 * Reads one host's `doctor --json` report. Throws {@linkcode ReportError}, naming
 * `file`, when it is not JSON, not a doctor report, or of another format version.
 *
 * @example
 * ```ts
 * import { parseReport } from "./fleet.ts";
 * try {
 *   parseReport('{"ok": true, "findings": [], "networks": [], "hookPoints": []}', "hv1.json");
 * } catch (error) {
 *   (error as Error).message.startsWith("hv1.json: a doctor report without a format version");
 *   // true
 * }
 * ```
 */
export function parseReport(text: string, file: string): HostReport {
  let report: Json;
  try {
    report = JSON.parse(text);
  } catch (error) {
    throw new ReportError(
      `${file}: not JSON (${(error as Error).message}): give the output of ` +
        "'deno task doctor --json'",
    );
  }
  if (
    !isObject(report) || !Array.isArray(report.findings) || !Array.isArray(report.networks) ||
    !Array.isArray(report.hookPoints)
  ) {
    throw new ReportError(
      `${file}: not a doctor report (no findings, networks and hookPoints): give the output ` +
        "of 'deno task doctor --json'",
    );
  }
  if (report.format === undefined) {
    throw new ReportError(
      `${file}: a doctor report without a format version, from an older network-nat: run ` +
        "'deno task doctor --json' on that host from the same network-nat version as fleet",
    );
  }
  if (report.format !== REPORT_FORMAT) {
    throw new ReportError(
      `${file}: doctor report format ${JSON.stringify(report.format)}, but this fleet reads ` +
        `format ${REPORT_FORMAT}: run doctor and fleet from the same network-nat version`,
    );
  }
  const problem = shapeProblem(report);
  if (problem) {
    throw new ReportError(
      `${file}: not a doctor report of format ${REPORT_FORMAT} (${problem}): give the ` +
        "unmodified output of 'deno task doctor --json'",
    );
  }
  const { host, summary, networks, libvirt, hook } = report as unknown as HostReport;
  return { file, host, summary, networks, libvirt, hook };
}

/** How a network stands on one host, compared with the other hosts. */
export type NetworkCell = "ok" | "missing" | "differs" | "inactive" | "no autostart" | "unknown";

/** One libvirt network across the hosts. */
export interface NetworkRow {
  name: string;
  /** Per host name. */
  hosts: Record<string, NetworkCell>;
  /** What differs between the hosts, and what to do, one line each. */
  differences: string[];
  /** What is the same on every host but still fails VM starts, one line each. */
  notes: string[];
}

/** One host's hook, as the fleet table shows it. */
export interface HookCells {
  /** How many hook points link to the checkout, e.g. `4/4`. */
  links: string;
  /** The Deno version on vdsmd's PATH, `none`, or `?` when unknown. */
  deno: string;
  /** The self-test of the installed hooks: `pass`, `FAIL`, or `not run`. */
  selfTest: "pass" | "FAIL" | "not run";
  /** How many of the doctor's checks failed. */
  doctorFailures: number;
}

/** An `extnet_pg` value that works on some hosts and not on others. */
export interface ValueProblem {
  /** The `extnet_pg` value. */
  value: string;
  /** Hosts where the hook refuses it (VM start, hot-plug, and migrations to them), and why. */
  refusedOn: Record<string, string>;
  /** Groups of hosts that place it differently: migrations between groups are refused. */
  migrationGroups: { hosts: string[]; port: string }[];
}

/** The comparison of a fleet's reports. */
export interface Fleet {
  /** The hosts, in the order of the reports. */
  hosts: string[];
  /** True when the networks are the same on every host and the hook is ready on each. */
  agree: boolean;
  networks: NetworkRow[];
  hooks: Record<string, HookCells>;
  /** Hook and libvirt problems of single hosts, one line each. */
  hostProblems: string[];
  values: ValueProblem[];
}

// A network's definition, without its name and state, as a comparable string.
function definition(network: Network): string {
  return JSON.stringify([
    network.kind,
    network.openvswitch,
    describeVlan(network.vlan),
    network.portgroups.map((p) => [p.name, p.isDefault, p.openvswitch, describeVlan(p.vlan)])
      .sort(),
  ]);
}

// Names up to three hosts, then how many more: a line per difference, even on a big cluster.
function listHosts(hosts: readonly string[]): string {
  const more = hosts.length > 3 ? ` (+${hosts.length - 3})` : "";
  return hosts.slice(0, 3).join(", ") + more;
}

// What differs in `network` from `reference`, one phrase each.
function definitionDifferences(network: Network, reference: Network): string[] {
  const differences: string[] = [];
  if (network.kind !== reference.kind || network.openvswitch !== reference.openvswitch) {
    differences.push(`${network.kind}, not ${reference.kind}`);
  }
  if (describeVlan(network.vlan) !== describeVlan(reference.vlan)) {
    differences.push(
      `network ${describeVlan(network.vlan)}, not ${describeVlan(reference.vlan)}`,
    );
  }
  for (const wanted of reference.portgroups) {
    const found = network.portgroups.find((p) => p.name === wanted.name);
    if (!found) {
      differences.push(`no portgroup ${wanted.name}`);
      continue;
    }
    if (describeVlan(found.vlan) !== describeVlan(wanted.vlan)) {
      differences.push(
        `portgroup ${wanted.name} has ${describeVlan(found.vlan)}, not ${
          describeVlan(wanted.vlan)
        }`,
      );
    }
    if (found.openvswitch !== wanted.openvswitch) {
      differences.push(
        `portgroup ${wanted.name} ${found.openvswitch ? "sets" : "lacks"} an Open vSwitch port`,
      );
    }
  }
  for (const extra of network.portgroups) {
    if (!reference.portgroups.some((p) => p.name === extra.name)) {
      differences.push(`extra portgroup ${extra.name}`);
    }
  }
  const defaultOf = (n: Network) => n.portgroups.find((p) => p.isDefault)?.name ?? "none";
  if (defaultOf(network) !== defaultOf(reference)) {
    differences.push(`default portgroup ${defaultOf(network)}, not ${defaultOf(reference)}`);
  }
  return differences;
}

function compareNetwork(name: string, reports: readonly HostReport[]): NetworkRow {
  const readable = reports.filter((r) => r.libvirt.error === undefined);
  const present = readable.flatMap((report) => {
    const network = report.networks.find((n) => n.name === name);
    return network ? [{ host: report.host, network }] : [];
  });
  // The reference is the definition most hosts have (the first host's on a tie).
  const counts = new Map<string, number>();
  for (const { network } of present) {
    counts.set(definition(network), (counts.get(definition(network)) ?? 0) + 1);
  }
  const best = Math.max(...counts.values());
  const reference = present.find(({ network }) => counts.get(definition(network)) === best)!;
  const referenceHosts = present.filter(({ network }) =>
    definition(network) === definition(reference.network)
  ).map(({ host }) => host);
  const asOn = `as on ${listHosts(referenceHosts)}`;
  const from = `from ${listHosts(referenceHosts)}`;

  const hosts: Record<string, NetworkCell> = {};
  const differences: string[] = [];
  const missing: string[] = [];
  for (const report of reports) {
    const network = present.find((p) => p.host === report.host)?.network;
    if (report.libvirt.error !== undefined) {
      hosts[report.host] = "unknown";
    } else if (!network) {
      hosts[report.host] = "missing";
      missing.push(report.host);
    } else if (definition(network) !== definition(reference.network)) {
      hosts[report.host] = "differs";
      differences.push(
        `${name} on ${report.host} differs ${from}: ${
          definitionDifferences(network, reference.network).join("; ")
        }: define it the same on every host`,
      );
    } else {
      hosts[report.host] = !network.active
        ? "inactive"
        : !network.autostart
        ? "no autostart"
        : "ok";
    }
  }
  if (missing.length) {
    differences.unshift(
      `${name} is missing on ${listHosts(missing)}: define it there ${asOn} ` +
        `(virsh net-define; net-start ${name}; net-autostart ${name})`,
    );
  }
  const notes: string[] = [];
  for (
    const [flag, word, fix] of [
      ["active", "inactive", `virsh net-start ${name}`],
      ["autostart", "not autostarted", `virsh net-autostart ${name}`],
    ] as const
  ) {
    const off = present.filter(({ network }) => !network[flag]).map(({ host }) => host);
    if (off.length === 0) continue;
    if (off.length < present.length || missing.length) {
      differences.push(`${name} is ${word} on ${listHosts(off)}: ${fix} there`);
    } else {
      notes.push(`${name} is ${word} on every host: ${fix} on each, if vNICs use it`);
    }
  }
  return { name, hosts, differences, notes };
}

function hookCells(report: HostReport): HookCells {
  const linked = HOOK_POINTS.filter((point) => report.hook.links[point] === "linked").length;
  const { path, version } = report.hook.deno;
  return {
    links: `${linked}/${HOOK_POINTS.length}`,
    deno: path === undefined ? "none" : /^deno (\S+)/.exec(version ?? "")?.[1] ?? "?",
    selfTest: !report.hook.selfTest?.ran
      ? "not run"
      : Object.values(report.hook.selfTest.points).includes("fail")
      ? "FAIL"
      : "pass",
    doctorFailures: report.summary.fail,
  };
}

function hostProblems(reports: readonly HostReport[], hooks: Record<string, HookCells>): string[] {
  const problems: string[] = [];
  for (const report of reports) {
    const { host } = report;
    if (report.libvirt.error !== undefined) {
      problems.push(
        `${host}: libvirt could not be read (${report.libvirt.error}), so its networks are ` +
          `unknown: run 'deno task doctor' there`,
      );
    }
    const unlinked = HOOK_POINTS.filter((point) => report.hook.links[point] !== "linked");
    if (unlinked.length) {
      const where = unlinked.length === HOOK_POINTS.length ? "" : ` at ${unlinked.join(", ")}`;
      problems.push(
        `${host}: the hook is not installed${where} in ${report.hook.hooksDir}: ` +
          "run 'deno task install' there",
      );
    }
    if (hooks[host].selfTest === "FAIL") {
      const failed = HOOK_POINTS.filter((point) => report.hook.selfTest?.points[point] === "fail");
      problems.push(
        `${host}: the installed hook failed its self-test at ${failed.join(", ")}: run ` +
          "'deno task doctor' there for the reason and the fix",
      );
    }
    if (hooks[host].deno === "none") {
      problems.push(`${host}: no deno on vdsmd's PATH: every redirect fails there`);
    }
    if (report.summary.fail > 0) {
      problems.push(
        `${host}: doctor found ${report.summary.fail} failure` +
          `${report.summary.fail === 1 ? "" : "s"}: run 'deno task doctor' there for the fixes`,
      );
    }
  }
  const versions = new Map<string, string[]>();
  for (const report of reports) {
    const deno = hooks[report.host].deno;
    if (deno !== "none" && deno !== "?") {
      versions.set(deno, [...versions.get(deno) ?? [], report.host]);
    }
  }
  if (versions.size > 1) {
    problems.push(
      `Deno differs: ${
        [...versions].map(([version, hosts]) => `${version} on ${listHosts(hosts)}`).join("; ")
      }: install the same Deno on every host`,
    );
  }
  return problems;
}

// Where the hook places a value on one host: a port description, or why it refuses.
function placement(
  report: HostReport,
  networkName: string,
  portgroup: string | undefined,
): { port: string } | { refused: string } {
  if (report.libvirt.error !== undefined) return { refused: "libvirt unreadable" };
  const network = report.networks.find((n) => n.name === networkName);
  if (!network) return { refused: "no such network" };
  try {
    const place = placeOnNetwork(network, { network: networkName, portgroup });
    // At a migration the hook compares the port's kind, and an Open vSwitch port's VLAN.
    return {
      port: place.openvswitch ? `Open vSwitch, ${describeVlan(place.vlan)}` : "not Open vSwitch",
    };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return { refused: network.active ? `no portgroup ${portgroup}` : "network inactive" };
  }
}

function valueProblems(reports: readonly HostReport[], names: readonly string[]): ValueProblem[] {
  const problems: ValueProblem[] = [];
  for (const name of names) {
    const portgroups = [
      ...new Set(
        reports.flatMap((r) =>
          r.networks.filter((n) => n.name === name).flatMap((n) => n.portgroups.map((p) => p.name))
        ),
      ),
    ];
    for (const portgroup of [undefined, ...portgroups]) {
      const value = portgroup === undefined ? name : `${name}:${portgroup}`;
      const refusedOn: Record<string, string> = {};
      const groups: { hosts: string[]; port: string }[] = [];
      for (const report of reports) {
        const place = placement(report, name, portgroup);
        if ("refused" in place) {
          refusedOn[report.host] = place.refused;
          continue;
        }
        const group = groups.find((g) => g.port === place.port);
        if (group) group.hosts.push(report.host);
        else groups.push({ hosts: [report.host], port: place.port });
      }
      // A value that works nowhere is not a difference between hosts.
      if (groups.length === 0) continue;
      if (Object.keys(refusedOn).length || groups.length > 1) {
        problems.push({ value, refusedOn, migrationGroups: groups.length > 1 ? groups : [] });
      }
    }
  }
  return problems;
}

/**
 * Compares the reports of a cluster's hosts. Throws {@linkcode ReportError} when
 * two reports name the same host.
 *
 * @example
 * ```ts
 * import { compareFleet, type HostReport } from "./fleet.ts";
 * const host = (name: string, vlan: number): HostReport => ({
 *   file: `${name}.json`, host: name, summary: { ok: 9, warn: 0, fail: 0 },
 *   libvirt: { uri: "qemu:///system", user: "vdsm" },
 *   hook: {
 *     checkout: "/opt/network-nat", hooksDir: "/usr/libexec/vdsm/hooks", deno: {},
 *     links: {
 *       before_device_create: "linked", before_nic_hotplug: "linked",
 *       before_update_device: "linked", before_device_migrate_destination: "linked",
 *     },
 *   },
 *   networks: [{
 *     name: "ovs-net", active: true, autostart: true, kind: "Open vSwitch", openvswitch: true,
 *     portgroups: [{ name: "blue", isDefault: false, openvswitch: false, vlan: { trunk: false, tags: [{ id: vlan }] } }],
 *   }],
 * });
 * const fleet = compareFleet([host("hv1", 20), host("hv2", 21)]);
 * fleet.agree; // false
 * fleet.values[0].value; // "ovs-net:blue"
 * ```
 */
export function compareFleet(reports: readonly HostReport[]): Fleet {
  const seen = new Map<string, string>();
  for (const report of reports) {
    const other = seen.get(report.host);
    if (other !== undefined) {
      throw new ReportError(
        `${report.file}: host ${report.host} is also the host of ${other}: give one report ` +
          "per host (doctor --json --host-name NAME names it)",
      );
    }
    seen.set(report.host, report.file);
  }
  // A host whose libvirt could not be read has no networks to compare, whatever its report says.
  const readable = reports.filter((r) => r.libvirt.error === undefined);
  const names = [...new Set(readable.flatMap((r) => r.networks.map((n) => n.name)))];
  const networks = names.map((name) => compareNetwork(name, reports));
  const hooks = Object.fromEntries(reports.map((r) => [r.host, hookCells(r)]));
  const problems = hostProblems(reports, hooks);
  const values = valueProblems(reports, names);
  return {
    hosts: reports.map((r) => r.host),
    agree: problems.length === 0 && networks.every((n) => n.differences.length === 0),
    networks,
    hooks,
    hostProblems: problems,
    values,
  };
}

// Breaks `text` into lines of at most `width` characters, the later ones indented.
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

function describeValue(problem: ValueProblem): string {
  const parts = Object.entries(problem.refusedOn).map(([host, reason]) =>
    `refused on ${host} (${reason}): VM starts, hot-plugs and migrations to it fail`
  );
  if (problem.migrationGroups.length) {
    parts.push(
      "migrations refused between hosts with different ports: " +
        problem.migrationGroups.map((g) => `${g.port} on ${listHosts(g.hosts)}`).join("; "),
    );
  }
  return parts.join("; ");
}

const CELL_TEXT: Record<NetworkCell, string> = {
  ok: "ok",
  missing: "MISSING",
  differs: "DIFFERS",
  inactive: "inactive",
  "no autostart": "no autostart",
  unknown: "?",
};

/**
 * Renders the comparison as a table for a terminal of `width` columns (hosts
 * beyond the width go to further blocks), followed by what differs and what to
 * do, and the `extnet_pg` values that fail on some hosts.
 *
 * @example
 * ```ts
 * import { renderFleet } from "./fleet.ts";
 * renderFleet({ hosts: ["hv1"], agree: true, networks: [], hooks: {
 *   hv1: { links: "4/4", deno: "2.9.6", selfTest: "pass", doctorFailures: 0 },
 * }, hostProblems: [], values: [] }).split("\n")[0];
 * // "network-nat fleet: 1 host ready"
 * ```
 */
export function renderFleet(fleet: Fleet, width = 80): string {
  const rows: [string, Record<string, string>][] = [
    ["network", {}],
    ...fleet.networks.map((row): [string, Record<string, string>] => [
      `  ${row.name}`,
      Object.fromEntries(fleet.hosts.map((h) => [h, CELL_TEXT[row.hosts[h]]])),
    ]),
    ["hook", {}],
    ...([
      ["links", (h) => fleet.hooks[h].links],
      ["deno", (h) => fleet.hooks[h].deno],
      ["self-test", (h) => fleet.hooks[h].selfTest],
      ["doctor", (h) => {
        const failures = fleet.hooks[h].doctorFailures;
        return failures ? `${failures} FAIL` : "ok";
      }],
    ] as [string, (host: string) => string][]).map(([label, cell]): [
      string,
      Record<string, string>,
    ] => [`  ${label}`, Object.fromEntries(fleet.hosts.map((h) => [h, cell(h)]))]),
  ];
  const first = Math.min(Math.max(...rows.map(([label]) => label.length)) + 2, 30);
  const column = Math.max(...fleet.hosts.map((h) => h.length), CELL_TEXT["no autostart"].length) +
    2;
  const perBlock = Math.max(1, Math.floor((width - first) / column));
  const count = `${fleet.hosts.length} host${fleet.hosts.length === 1 ? "" : "s"}`;
  const verdict = fleet.hosts.length === 1
    ? (fleet.agree ? "ready" : "NOT ready")
    : (fleet.agree ? "agree" : "DIFFER");
  const lines = [`network-nat fleet: ${count} ${verdict}`];
  for (let start = 0; start < fleet.hosts.length; start += perBlock) {
    const hosts = fleet.hosts.slice(start, start + perBlock);
    const line = (label: string, cells: string[]) =>
      (label.length >= first ? `${label} ` : label.padEnd(first)) +
      cells.map((c) => c.padEnd(column)).join("").trimEnd();
    lines.push("", line("", hosts).trimEnd());
    for (const [label, cells] of rows) {
      lines.push(line(label, hosts.map((h) => cells[h] ?? "")).trimEnd());
    }
  }
  const section = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push("", title);
    for (const item of items) lines.push(...wrap(item, width - 2, "  ").map((l) => `  ${l}`));
  };
  section("What differs, and what to do:", [
    ...fleet.networks.flatMap((n) => n.differences),
    ...fleet.hostProblems,
  ]);
  section(
    `${PROPERTY} values that fail on some hosts:`,
    fleet.values.map((v) => `${v.value}: ${describeValue(v)}`),
  );
  section("The same on every host, but worth a look:", fleet.networks.flatMap((n) => n.notes));
  return `${lines.join("\n")}\n`;
}

/**
 * Renders the comparison as JSON for automation: `{ format, agree, hosts,
 * networks, hooks, hostProblems, values }`.
 *
 * @example
 * ```ts
 * import { renderFleetJson } from "./fleet.ts";
 * JSON.parse(renderFleetJson({
 *   hosts: [], agree: true, networks: [], hooks: {}, hostProblems: [], values: [],
 * })).agree; // true
 * ```
 */
export function renderFleetJson(fleet: Fleet): string {
  return JSON.stringify({ format: REPORT_FORMAT, ...fleet }, null, 2) + "\n";
}
