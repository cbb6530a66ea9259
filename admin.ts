/**
 * Tools for the admin of the network-nat hook:
 *
 * - `preview`: what the hook would do to one vNIC's device XML;
 * - `doctor`: whether this host is ready for the hook;
 * - `engine-config`: the commands that declare `extnet_pg` on the engine;
 * - `fleet`: whether the doctor reports of a cluster's hosts agree.
 *
 * Run through the deno.json tasks (`deno task preview --help`, ...), which give
 * each command only the permissions it needs. This file handles arguments,
 * I/O and exit codes; the logic is in `admin/` (reading the host: `admin/host/`), the
 * hook's own in `lib/` and `host/`.
 *
 * @module
 */

import {
  ADMIN_HELP,
  DOCTOR_HELP,
  ENGINE_CONFIG_HELP,
  FLEET_HELP,
  PREVIEW_HELP,
} from "./admin/help.ts";
import { osMessage, parseOptions, typedPath, UsageError } from "./admin/cli.ts";
import { colourDiff, unifiedDiff } from "./admin/diff.ts";
import { diagnose, hostState, renderFindings, renderJson } from "./admin/doctor.ts";
import { compareFleet, parseReport, renderFleet, renderFleetJson } from "./admin/fleet.ts";
import { GET_COMMAND, parseEngineConfigOutput, renderReport } from "./admin/engine_config.ts";
import { vnicReport } from "./admin/placement.ts";
import { HOOK_POINTS, runHook } from "./lib/hook.ts";
import { DEFAULT_HOOKS_DIR, SYSTEMD_PATH, VDSM_USER } from "./admin/install_plan.ts";
import { PROPERTY } from "./lib/property.ts";
import { HOOK_PREFIX, hookErrorLine, Refusal } from "./lib/refusal.ts";
import { gatherDoctorFacts } from "./admin/host/doctor_facts.ts";
import { decodeHookFile, readHookFile } from "./host/hook_file.ts";
import { libvirtUri, lookupNetwork } from "./host/libvirt.ts";

/** An I/O problem (a file that cannot be read or written): like a usage error, without the hint. */
class IoError extends Error {
  override name = "IoError";
}

/** Where `deno task` was started; file arguments are relative to it (see {@linkcode typedPath}). */
const INIT_CWD = Deno.env.get("INIT_CWD");

function useColour(): boolean {
  return Deno.stdout.isTerminal() && !Deno.noColor;
}

function write(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

async function preview(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    value: { type: "string" },
    point: { type: "string", default: "before_device_create" },
    "provider-type": { type: "string" },
    "no-libvirt": { type: "boolean", default: false },
    output: { type: "string" },
  });
  if (values.help) {
    write(PREVIEW_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "name the device XML file (or - for stdin)"
        : `expected one FILE, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  if (values.value === undefined) {
    throw new UsageError(
      `--value NETWORK[:PORTGROUP] is required: the vNIC's ${PROPERTY}`,
    );
  }
  const point = HOOK_POINTS.find((p) => p === values.point);
  if (!point) {
    throw new UsageError(
      `unknown --point ${values.point}: expected one of ${HOOK_POINTS.join(", ")}`,
    );
  }
  const [file] = positionals;
  const label = file === "-" ? "stdin" : file;

  let xml: string;
  try {
    xml = file === "-"
      ? decodeHookFile(await new Response(Deno.stdin.readable).bytes(), "stdin")
      : readHookFile(typedPath(file, INIT_CWD));
  } catch (error) {
    if (error instanceof Refusal && error.cause !== undefined) {
      throw new IoError(`cannot read ${label}: ${osMessage(error.cause)}`);
    }
    if (error instanceof Refusal) {
      console.error(hookErrorLine(error));
      return 2;
    }
    throw new IoError(`cannot read ${label}: ${osMessage(error)}`);
  }
  if (values["no-libvirt"]) {
    console.error(
      "preview: --no-libvirt: libvirt was not consulted, so the network, its portgroup and " +
        "whether it is Open vSwitch (which adds <virtualport> and <vlan>) were not checked",
    );
  }
  const uri = libvirtUri();
  let result;
  try {
    result = await runHook({
      point,
      property: values.value,
      providerType: values["provider-type"],
      xml,
      lookupNetwork: values["no-libvirt"]
        ? undefined
        : (name, cancel) => lookupNetwork(name, uri, cancel),
    });
  } catch (error) {
    console.error(hookErrorLine(error));
    return 2;
  }
  const after = result.xml ?? xml;
  if (values.output !== undefined) {
    if (values.output === "-") {
      write(after);
    } else {
      try {
        Deno.writeTextFileSync(typedPath(values.output, INIT_CWD), after);
      } catch (error) {
        throw new IoError(`cannot write ${values.output}: ${osMessage(error)}`);
      }
    }
  } else {
    const diff = unifiedDiff(xml, after, {
      from: label,
      to: `${label} (after network-nat at ${point})`,
    });
    write(useColour() ? colourDiff(diff) : diff);
  }
  if (result.message) console.error(`${HOOK_PREFIX} ${result.message}`);
  if (result.xml === undefined) {
    console.error(`preview: the hook would leave the device XML as it is at ${point}`);
  }
  return 0;
}

async function doctor(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    value: { type: "string" },
    "hooks-dir": { type: "string", default: DEFAULT_HOOKS_DIR },
    path: { type: "string", default: SYSTEMD_PATH },
    user: { type: "string", default: VDSM_USER },
    json: { type: "boolean", default: false },
    "host-name": { type: "string" },
    "no-self-test": { type: "boolean", default: false },
  });
  if (values.help) {
    write(DOCTOR_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const facts = await gatherDoctorFacts({
    hooksDir: typedPath(values["hooks-dir"], INIT_CWD),
    servicePath: values.path,
    user: values.user,
    value: values.value,
    selfTest: !values["no-self-test"],
  });
  const findings = diagnose(facts);
  write(
    values.json
      ? renderJson(
        findings,
        facts.libvirt.networks,
        facts.vms ? vnicReport(facts.vms, facts.libvirt.networks) : [],
        hostState(values["host-name"] ?? Deno.hostname(), facts),
      )
      : renderFindings(findings, useColour()),
  );
  return findings.some((finding) => finding.status === "fail") ? 1 : 0;
}

async function engineConfig(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {});
  if (values.help) {
    write(ENGINE_CONFIG_HELP);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(`expected at most one FILE, got ${positionals.length}`);
  }
  const file = positionals[0] ?? "-";
  let input: string;
  try {
    if (file === "-") {
      if (Deno.stdin.isTerminal()) {
        console.error(`Paste the output of '${GET_COMMAND}', then press Ctrl-D:`);
      }
      input = await new Response(Deno.stdin.readable).text();
    } else {
      input = Deno.readTextFileSync(typedPath(file, INIT_CWD));
    }
  } catch (error) {
    throw new IoError(`cannot read ${file}: ${osMessage(error)}`);
  }
  try {
    write(renderReport(parseEngineConfigOutput(input)));
    return 0;
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      console.error(
        `network-nat engine-config: refused, nothing printed: ${error.message} ` +
          `(give the unmodified output of '${GET_COMMAND}')`,
      );
      return 1;
    }
    throw error;
  }
}

async function fleet(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: "boolean", default: false } });
  if (values.help) {
    write(FLEET_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("name the doctor --json reports to compare");
  const reports = [];
  for (const file of positionals) {
    let text: string;
    try {
      text = await Deno.readTextFile(typedPath(file, INIT_CWD));
    } catch (error) {
      throw new IoError(`cannot read ${file}: ${osMessage(error)}`);
    }
    // A ReportError names the file; main() prints it and exits 2.
    reports.push(parseReport(text, file));
  }
  const view = compareFleet(reports);
  write(values.json ? renderFleetJson(view) : renderFleet(view));
  return view.agree ? 0 : 1;
}

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; usageCode: number }> = {
  preview: { run: preview, usageCode: 1 },
  doctor: { run: doctor, usageCode: 2 },
  "engine-config": { run: engineConfig, usageCode: 2 },
  fleet: { run: fleet, usageCode: 2 },
};

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    write(ADMIN_HELP);
    return 0;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    console.error(
      `network-nat: ${name === undefined ? "no command" : `unknown command ${name}`}: ` +
        "expected preview, doctor, engine-config or fleet (see admin.ts --help)",
    );
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = error instanceof UsageError ? ` (see 'deno task ${name} --help')` : "";
    console.error(`network-nat ${name}: ${message.replace(/\s*\n\s*/g, " ")}${hint}`);
    return command.usageCode;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
