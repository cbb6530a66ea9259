/**
 * Tools for the admin of the network-nat hook:
 *
 * - `preview`: what the hook would do to one vNIC's device XML;
 * - `doctor`: whether this host is ready for the hook;
 * - `engine-config`: the commands that declare `extnet_pg` on the engine.
 *
 * Run through the deno.json tasks (`deno task preview --help`, ...), which give
 * each command only the permissions it needs. This file handles arguments,
 * I/O and exit codes; the logic is in `lib/` and `host/`.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { colourDiff, unifiedDiff } from "./lib/diff.ts";
import { diagnose, renderFindings, renderJson } from "./lib/doctor.ts";
import {
  CONFIG_KEY,
  findPropertyRegex,
  GET_COMMAND,
  parseEngineConfigOutput,
  planExtnetPg,
  renderCommands,
  type VersionPlan,
} from "./lib/engine_config.ts";
import { HOOK_POINTS, type HookPoint, runHook } from "./lib/hook.ts";
import { DEFAULT_HOOKS_DIR, SYSTEMD_PATH, VDSM_USER } from "./lib/install_plan.ts";
import { PROPERTY, PROPERTY_REGEX } from "./lib/property.ts";
import { HOOK_PREFIX, hookErrorLine, Refusal } from "./lib/refusal.ts";
import { gatherDoctorFacts } from "./host/doctor_facts.ts";
import { decodeHookFile, readHookFile } from "./host/hook_file.ts";
import { libvirtUri, lookupNetwork } from "./host/virsh.ts";

/** A usage problem: one line on stderr, then the command's exit code for it. */
class UsageError extends Error {
  override name = "UsageError";
}

/** An I/O problem (a file that cannot be read or written): like a usage error, without the hint. */
class IoError extends Error {
  override name = "IoError";
}

const HELP =
  `Usage: deno task <command> [options]   (or: deno run <permissions> admin.ts <command> ...)

Tools for the admin of the network-nat VDSM hook.

Commands:
  preview        show what the hook would do to a vNIC's device XML
  doctor         check, read-only, that this host is ready for the hook
  engine-config  print the engine-config commands that declare ${PROPERTY}

Run 'deno task <command> --help' for a command's options and exit codes.
`;

const PREVIEW_HELP = `Usage: deno task preview FILE|- --value NETWORK[:PORTGROUP] [options]

Shows what the network-nat hook would write for the vNIC device XML in FILE
(or on stdin with -), as VDSM would hand it over in _hook_domxml, when the vNIC
profile sets ${PROPERTY}=NETWORK[:PORTGROUP]. It runs the hook's own code, including
its read-only libvirt lookup (LIBVIRT_DEFAULT_URI, else qemu:///system). FILE is
never changed.

stdout gets a unified diff from FILE to what the hook would write (coloured on a
terminal unless NO_COLOR is set; empty when the hook would leave the file as it
is). stderr gets the line the hook would log, as 'network-nat: ...'.

Options:
  --value NETWORK[:PORTGROUP]  the ${PROPERTY} value (required)
  --point POINT                the hook point: ${
  HOOK_POINTS.join(",\n                               ")
}
                               (default before_device_create)
  --provider-type TYPE         as VDSM sets provider_type for vNICs on external-provider
                               networks (e.g. OVN); the hook refuses those
  --no-libvirt                 skip the libvirt lookup: the network, its portgroup and
                               whether it is Open vSwitch are then not checked
  --output FILE                write the whole XML the hook would write to FILE
                               (- for stdout) instead of printing the diff
  -h, --help                   show this help

Exit codes:
  0  the hook would rewrite the vNIC, or leave it as it is
  1  usage or I/O error (one line on stderr)
  2  the hook would refuse: stderr has the exact line it would print, and VDSM
     would fail the VM start, hot-plug or update

Example:
  deno task preview /tmp/nic.xml --value ovs-net:vlan-20
`;

const DOCTOR_HELP = `Usage: deno task doctor [options]

Checks, read-only, whether this host is ready for the network-nat hook, and
reports each check as ok, warn or FAIL with the fix:
  - deno on vdsmd's PATH, and its version;
  - the ${HOOK_POINTS.length} hook links in the hooks root, pointing to this checkout; no other
    executable copy of the hook beside them (VDSM would run it too);
  - main.ts executable with its shell preamble; user ${VDSM_USER} can reach and read it;
  - read-only libvirt access as user ${VDSM_USER} (when run as root), and every libvirt
    network with its kind, active and autostart state, portgroups and VLANs;
  - with --value, one ${PROPERTY} target, checked the way the hook checks it.

Options:
  --value NETWORK[:PORTGROUP]  also check this ${PROPERTY} value
  --hooks-dir DIR              VDSM's hooks root (default ${DEFAULT_HOOKS_DIR})
  --path PATH                  the PATH vdsmd runs hooks with
                               (default systemd's ${SYSTEMD_PATH})
  --user USER                  the user VDSM runs hooks as (default ${VDSM_USER})
  --json                       print the findings and networks as JSON
  -h, --help                   show this help

Exit codes:
  0  no check failed (warnings allowed)
  1  at least one check failed
  2  usage error (one line on stderr)

Example:
  deno task doctor --value ovs-net:vlan-20
`;

const ENGINE_CONFIG_HELP = `Usage: deno task engine-config [FILE|-]

Reads the output of '${GET_COMMAND}' (one line per
compatibility version) from FILE, or from stdin when FILE is - or absent, and
prints the commands to run on the engine: one 'engine-config -s' per version
whose value lacks ${PROPERTY} or has another regex for it, keeping every
other property, then the engine restart. Comment lines (#) say what changes.
Anything it does not understand is refused, rather than dropped.

The regex set for ${PROPERTY} is ${PROPERTY_REGEX}

Options:
  -h, --help  show this help

Exit codes:
  0  printed the commands, or that nothing needs to change
  1  refused the input (one line on stderr: where, and what was expected)
  2  usage or I/O error (one line on stderr)

Example:
  ${GET_COMMAND} > cdp.txt   (on the engine)
  deno task engine-config cdp.txt
`;

/**
 * Parses a command's arguments (positionals allowed, and -h/--help added to `options`),
 * turning `parseArgs`'s errors into one-line usage errors.
 */
function parse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { ...options, help: { type: "boolean", short: "h", default: false } as const },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const option = /'(-[^' ]+)/.exec(message)?.[1];
    const code = (error as { code?: string }).code;
    throw new UsageError(
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
        ? `unknown option ${option}`
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && /argument missing/.test(message)
        ? `option ${option} needs a value`
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
        ? `option ${option} takes no value`
        : message.split("\n")[0],
    );
  }
}

/** An OS error's reason without Deno's "(os error N): call 'path'" tail. */
function osMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(
    / \(os error \d+\).*$/s,
    "",
  );
}

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
  const { values, positionals } = parse(args, {
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
  const path = file;
  const label = file === "-" ? "stdin" : file;

  let xml: string;
  try {
    xml = file === "-"
      ? decodeHookFile(await new Response(Deno.stdin.readable).bytes(), "stdin")
      : readHookFile(path);
  } catch (error) {
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
      point: point as HookPoint,
      property: values.value,
      providerType: values["provider-type"],
      xml,
      lookupNetwork: values["no-libvirt"] ? undefined : (name) => lookupNetwork(name, uri),
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
        Deno.writeTextFileSync(values.output, after);
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
  const { values, positionals } = parse(args, {
    value: { type: "string" },
    "hooks-dir": { type: "string", default: DEFAULT_HOOKS_DIR },
    path: { type: "string", default: SYSTEMD_PATH },
    user: { type: "string", default: VDSM_USER },
    json: { type: "boolean", default: false },
  });
  if (values.help) {
    write(DOCTOR_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const facts = await gatherDoctorFacts({
    hooksDir: values["hooks-dir"],
    servicePath: values.path,
    user: values.user,
    value: values.value,
  });
  const findings = diagnose(facts);
  write(
    values.json
      ? renderJson(findings, facts.libvirt.networks)
      : renderFindings(findings, useColour()),
  );
  return findings.some((finding) => finding.status === "fail") ? 1 : 0;
}

function describePlan(plan: VersionPlan, currentRegex: (plan: VersionPlan) => string | undefined) {
  switch (plan.change) {
    case "none":
      return `#   ${plan.version}: ${PROPERTY} is already declared right; nothing to change`;
    case "add":
      return `#   ${plan.version}: add ${PROPERTY}, keep the rest`;
    case "update":
      return `#   ${plan.version}: replace the ${PROPERTY} regex ${
        currentRegex(plan)
      }, keep the rest`;
  }
}

async function engineConfig(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
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
      input = Deno.readTextFileSync(file);
    }
  } catch (error) {
    throw new IoError(`cannot read ${file}: ${osMessage(error)}`);
  }
  try {
    const parsed = parseEngineConfigOutput(input);
    const plans = planExtnetPg(parsed);
    const commands = renderCommands(plans);
    const regexOf = (plan: VersionPlan) => {
      const blocks = parsed.find((v) => v.version === plan.version)?.blocks ?? [];
      return findPropertyRegex(blocks, "interface", PROPERTY);
    };
    const lines = [
      `# ${CONFIG_KEY}, per compatibility version (${PROPERTY}=${PROPERTY_REGEX}):`,
      ...plans.map((plan) => describePlan(plan, regexOf)),
    ];
    if (commands.length === 0) {
      lines.push("# nothing to change: no command to run");
    } else {
      lines.push(
        "# run on the engine machine ('engine-config -s' replaces a version's whole value):",
        ...commands,
      );
    }
    write(`${lines.join("\n")}\n`);
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

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; usageCode: number }> = {
  preview: { run: preview, usageCode: 1 },
  doctor: { run: doctor, usageCode: 2 },
  "engine-config": { run: engineConfig, usageCode: 2 },
};

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    write(HELP);
    return 0;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    console.error(
      `network-nat: ${name === undefined ? "no command" : `unknown command ${name}`}: ` +
        "expected preview, doctor or engine-config (see admin.ts --help)",
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
