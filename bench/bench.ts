/**
 * Whole-process latency of the hook, as ratios against references measured
 * side by side in the same run (these machines are noisy: absolute times mean
 * little). Every command is run through the same spawn harness, round-robin,
 * and compared by median.
 *
 *   deno task bench [--rounds N]
 *
 * Targets: the no-property path at most 2x `/bin/true`; a full rewrite at most
 * 1.30x a bare Deno script that reads one variable; the libvirt lookup at most
 * one virsh start-up more than the rewrite alone. The hook always asks libvirt,
 * so "the rewrite alone" is derived: the hook with a stub virsh that prints a
 * recorded answer, less what spawning that stub costs a bare Deno script. It is
 * then split into the shell preamble, loading the hook's modules (a bare Deno
 * script that imports them and exits) and the hook's own work.
 *
 * Then, as root with the sandbox's packages (tests/libvirt/packages.txt), the same
 * against a real libvirtd (tests/libvirt/sandbox.sh), where the hook asks libvirt
 * over its read-only socket: a full redirect at most 0.75x a bare Deno script that
 * spawns the same virsh lookup, and at most 1.30x a bare Deno script that reads one
 * variable. (`--system` runs only that part, inside the sandbox.)
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseOptions, UsageError } from "../admin/cli.ts";
import { HOOK_POINTS } from "../lib/hook.ts";

const USAGE = "deno task bench [--rounds N] [--system], N a positive integer (default 40)";

function readRounds(args: string[]): number {
  const { values, positionals } = parseOptions(args, {
    rounds: { type: "string", default: "40" },
    system: { type: "boolean" },
  });
  if (values.help) {
    console.log(`Usage: ${USAGE}`);
    Deno.exit(0);
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!/^[1-9][0-9]*$/.test(values.rounds)) {
    throw new UsageError(`--rounds must be a positive integer, not ${values.rounds}`);
  }
  return Number(values.rounds);
}

let rounds: number;
try {
  rounds = readRounds(Deno.args);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`bench: ${error.message} (usage: ${USAGE})`);
  Deno.exit(2);
}
// Inside the sandbox: only the cases against its real libvirtd.
const system = Deno.args.includes("--system");
const root = fileURLToPath(new URL("../", import.meta.url));
const work = Deno.makeTempDirSync({ prefix: "network-nat-bench-" });
// A URI, so its path stays percent-encoded.
const networks = `test://${new URL("../samples/networks.xml", import.meta.url).pathname}`;
const recorded = `${root}tests/fixtures/virsh/br-net.txt`;
const sample = Deno.readTextFileSync(`${root}tests/fixtures/corpus/gen-hookinput-nic-hotplug.xml`);

// A hooks tree as install.ts makes it, a bare Deno script, and a virsh that only prints a
// recorded answer (so "rewrite alone" still runs the hook's real code path, minus libvirt).
const hook = `${work}/hooks/${HOOK_POINTS[1]}/50_network_nat`;
Deno.mkdirSync(`${work}/hooks/${HOOK_POINTS[1]}`, { recursive: true });
Deno.symlinkSync(`${root}main.ts`, hook);
Deno.writeTextFileSync(`${work}/bare.ts`, 'Deno.env.get("extnet_pg");\n');
Deno.mkdirSync(`${work}/recorded-bin`);
Deno.writeTextFileSync(`${work}/recorded-bin/virsh`, `#!/bin/sh\nexec cat '${recorded}'\n`, {
  mode: 0o755,
});
const domxml = `${work}/domxml.xml`;

interface Case {
  name: string;
  command: string[];
  env?: Record<string, string>;
}

const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
const home = Deno.env.get("HOME");
// Only these reach the commands: an extnet_pg or provider_type of the caller's would change
// what the hook does.
const baseEnv: Record<string, string> = {
  PATH: path,
  ...(home === undefined ? {} : { HOME: home }),
};
const deno = Deno.execPath();
const stubPath = `${work}/recorded-bin:${path}`;
Deno.writeTextFileSync(
  `${work}/spawn.ts`,
  'await new Deno.Command("virsh", { stdout: "piped", stderr: "piped" }).output();\n',
);
// The same virsh run as the hook's, started by a bare Deno script: what one virsh start-up
// costs a Deno process, Deno's set-up of its first subprocess included.
Deno.writeTextFileSync(
  `${work}/spawn-virsh.ts`,
  `await new Deno.Command("virsh", {
  args: ["-r", "-c", Deno.env.get("LIBVIRT_DEFAULT_URI")!, "net-info br-net; net-dumpxml br-net"],
  stdout: "piped",
  stderr: "piped",
}).output();
`,
);
// The modules main.ts loads (their imports come along), imported from this checkout.
Deno.writeTextFileSync(
  `${work}/load.ts`,
  ["lib/hook.ts", "host/hook_file.ts", "host/libvirt.ts", "lib/refusal.ts"]
    .map((module) =>
      `await import(${JSON.stringify(new URL(`../${module}`, import.meta.url).href)});\n`
    )
    .join(""),
);
const cases: Case[] = [
  { name: "/bin/true", command: ["/bin/true"] },
  { name: "hook, no extnet_pg", command: [hook] },
  { name: "bare deno script", command: [deno, "run", "-q", "--allow-env", `${work}/bare.ts`] },
  {
    name: "bare deno, loads modules",
    command: [deno, "run", "-q", "--allow-read", `${work}/load.ts`],
  },
  {
    name: "bare deno, spawns stub",
    command: [deno, "run", "-q", "--allow-run", `${work}/spawn.ts`],
    env: { PATH: stubPath },
  },
  {
    name: "hook, stub virsh",
    command: [hook],
    env: { extnet_pg: "br-net:vlan-20", PATH: stubPath },
  },
  { name: "hook, real virsh", command: [hook], env: { extnet_pg: "br-net:vlan-20" } },
  {
    name: "virsh alone",
    command: ["virsh", "-r", "-c", networks, "net-info br-net; net-dumpxml br-net"],
  },
  {
    name: "bare deno, spawns virsh",
    command: [deno, "run", "-q", "--allow-env", "--allow-run", `${work}/spawn-virsh.ts`],
  },
];

// Against the sandbox's libvirtd: the hook asks over the socket; LIBVIRT_DEFAULT_URI unset.
const systemEnv = { LIBVIRT_DEFAULT_URI: "" };
// The same lookup from a bare Deno script, and the whole preamble with /bin/true as deno.
Deno.writeTextFileSync(
  `${work}/ask.ts`,
  `const { lookupNetwork } = await import(${
    JSON.stringify(new URL("../host/libvirt.ts", import.meta.url).href)
  });\nawait lookupNetwork("br-net", "qemu:///system");\n`,
);
Deno.mkdirSync(`${work}/true-deno-bin`);
Deno.symlinkSync("/bin/true", `${work}/true-deno-bin/deno`);
const systemCases: Case[] = [
  cases[0],
  { ...cases[1], env: systemEnv },
  { ...cases[2], env: systemEnv },
  { ...cases[3], env: systemEnv },
  {
    name: "hook preamble, deno=true",
    command: [hook],
    env: { ...systemEnv, extnet_pg: "br-net:vlan-20", PATH: `${work}/true-deno-bin:${path}` },
  },
  {
    name: "bare deno, asks socket",
    command: [deno, "run", "-q", "--allow-read", "--allow-write", "--allow-net", `${work}/ask.ts`],
    env: systemEnv,
  },
  {
    name: "hook, libvirtd socket",
    command: [hook],
    env: { ...systemEnv, extnet_pg: "br-net:vlan-20" },
  },
  {
    name: "bare deno, spawns virsh",
    command: cases[8].command,
    env: { LIBVIRT_DEFAULT_URI: "qemu:///system" },
  },
];

async function timeOnce(item: Case): Promise<number> {
  Deno.writeTextFileSync(domxml, sample);
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(item.command[0], {
    args: item.command.slice(1),
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    clearEnv: true,
    env: Object.fromEntries(
      Object.entries({
        ...baseEnv,
        _hook_domxml: domxml,
        LIBVIRT_DEFAULT_URI: networks,
        ...item.env,
      }).filter(([, value]) => value !== ""),
    ),
  }).output();
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`${item.name} failed: ${new TextDecoder().decode(stderr)}`);
  return elapsed;
}

/** Runs `list` round-robin, `rounds` times after one warm-up run each; returns the medians. */
async function measure(list: Case[]): Promise<(name: string) => number> {
  const times = new Map(list.map((item) => [item.name, [] as number[]]));
  for (const item of list) await timeOnce(item); // warm caches (Deno's transpile cache among them)
  for (let round = 0; round < rounds; round++) {
    for (const item of list) times.get(item.name)!.push(await timeOnce(item));
  }
  const median = (name: string) => {
    const sorted = [...times.get(name)!].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  for (const item of list) {
    console.log(`${item.name.padEnd(26)} median ${median(item.name).toFixed(1).padStart(7)} ms`);
  }
  return median;
}

function printChecks(checks: [string, number, number | undefined][]): void {
  console.log(`\n${rounds} rounds, ratios of medians (target):`);
  for (const [name, ratio, target] of checks) {
    const verdict = target === undefined
      ? "(for reference)"
      : `(<= ${target}x) ${ratio <= target ? "ok" : "OVER TARGET"}`;
    console.log(`${name.padEnd(48)} ${ratio.toFixed(2)}x ${verdict}`);
  }
}

if (system) {
  const median = await measure(systemCases);
  Deno.removeSync(work, { recursive: true });
  const bare = median("bare deno script");
  const preamble = median("hook preamble, deno=true") - median("/bin/true");
  const loading = median("bare deno, loads modules") - bare;
  const asking = median("bare deno, asks socket") - median("bare deno, loads modules");
  const redirect = median("hook, libvirtd socket");
  console.log(
    `\nredirect = bare deno script + ${preamble.toFixed(1)} ms shell preamble (grants ` +
      `included) + ${loading.toFixed(1)} ms loading modules + ${asking.toFixed(1)} ms asking ` +
      `libvirt over its socket + ${
        (redirect - bare - preamble - loading - asking).toFixed(1)
      } ms the hook's own work`,
  );
  printChecks([
    ["no extnet_pg / /bin/true", median("hook, no extnet_pg") / median("/bin/true"), 2],
    ["redirect / bare deno, spawns virsh", redirect / median("bare deno, spawns virsh"), 0.75],
    ["redirect / bare deno script", redirect / bare, 1.3],
  ]);
  Deno.exit(0);
}

const median = await measure(cases);
Deno.removeSync(work, { recursive: true });
// The rewrite alone: the hook with a stub virsh, less what spawning that stub costs a bare script.
const bare = median("bare deno script");
const rewriteAlone = median("hook, stub virsh") - (median("bare deno, spawns stub") - bare);
const lookup = median("hook, real virsh") - rewriteAlone;
console.log(
  `${"rewrite alone (derived)".padEnd(26)} median ${rewriteAlone.toFixed(1).padStart(7)} ms`,
);
console.log(`${"libvirt lookup (derived)".padEnd(26)} median ${lookup.toFixed(1).padStart(7)} ms`);
const preamble = median("hook, no extnet_pg") - median("/bin/true");
const loading = median("bare deno, loads modules") - bare;
console.log(
  `\nrewrite alone = bare deno script + ${preamble.toFixed(1)} ms shell preamble + ` +
    `${loading.toFixed(1)} ms loading modules + ` +
    `${(rewriteAlone - bare - preamble - loading).toFixed(1)} ms the hook's own work`,
);
// The lookup's target is one virsh start-up as the hook pays it, from a Deno process; virsh
// started by this harness skips Deno's first-subprocess set-up, so that ratio is for reference.
const checks: [string, number, number | undefined][] = [
  ["no extnet_pg / /bin/true", median("hook, no extnet_pg") / median("/bin/true"), 2],
  ["rewrite alone / bare deno script", rewriteAlone / bare, 1.3],
  [
    "libvirt lookup / a virsh start-up from Deno",
    lookup / (median("bare deno, spawns virsh") - bare),
    1,
  ],
  ["libvirt lookup / virsh alone", lookup / median("virsh alone"), undefined],
];
printChecks(checks);

// Against a real libvirtd, when this machine can run the sandbox.
const sandbox = `${root}tests/libvirt/sandbox.sh`;
if (Deno.uid() !== 0) {
  console.log("\nreal libvirtd: skipped (needs root and tests/libvirt/packages.txt)");
} else {
  console.log("\nagainst a real libvirtd (tests/libvirt/sandbox.sh), hook over its socket:");
  const { code } = await new Deno.Command(sandbox, {
    args: [
      deno,
      "run",
      "-q",
      "-A",
      fileURLToPath(import.meta.url),
      "--system",
      "--rounds",
      String(rounds),
    ],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output().catch((error) => ({ code: String(error) }));
  if (code !== 0) console.log(`real libvirtd: the sandbox failed (${code}); see its output above`);
}
