/**
 * Mass VM start: N hook runs started at once, as VDSM runs them after a host
 * reboot (link in a hook point directory, cwd `/`, stdin `/dev/null`, user
 * nobody when run as root, each with its own device XML file). Reports how
 * many runs were refused and why, and the latency distribution.
 *
 *   deno task load [--runs N] [--fresh-cache] [--network NAME]
 *
 * libvirt is `LIBVIRT_DEFAULT_URI` when set, else the test driver with the
 * sample networks; for a real libvirtd, as root:
 * `tests/libvirt/sandbox.sh deno task load --fresh-cache`. `--fresh-cache` starts
 * from an empty Deno cache, as after an upgrade of the hook or of Deno.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseOptions, UsageError } from "../admin/cli.ts";

const USAGE = "deno task load [--runs N] [--fresh-cache] [--network NAME]";
const NOBODY = 65534;
const ROOT = fileURLToPath(new URL("../", import.meta.url));

const { values } = parseOptions(Deno.args, {
  runs: { type: "string", default: "100" },
  "fresh-cache": { type: "boolean", default: false },
  network: { type: "string", default: "br-net" },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs: ${USAGE}`);

const isRoot = Deno.uid() === 0;
const base = Deno.makeTempDirSync({ prefix: "network-nat-load-" });
Deno.chmodSync(base, 0o755);
try {
  // A copy any user can read, linked from a hook point directory as the installer does.
  const checkout = `${base}/checkout`;
  copyTree(ROOT, checkout, ["main.ts", "lib", "host", "samples"]);
  Deno.mkdirSync(`${base}/hooks/before_device_create`, { recursive: true });
  const hook = `${base}/hooks/before_device_create/50_network_nat`;
  Deno.symlinkSync(`${checkout}/main.ts`, hook);
  for (const dir of ["home", "tmp"]) {
    Deno.mkdirSync(`${base}/${dir}`);
    if (isRoot) Deno.chownSync(`${base}/${dir}`, NOBODY, NOBODY);
  }
  const uri = Deno.env.get("LIBVIRT_DEFAULT_URI") ?? `test://${checkout}/samples/networks.xml`;
  const input = Deno.readTextFileSync(
    `${ROOT}tests/fixtures/corpus/gen-hookinput-device-create-extnet-queues-qos.xml`,
  );

  const runOnce = async (index: number) => {
    const file = `${base}/tmp/hook_domxml-${index}`;
    Deno.writeTextFileSync(file, input, { mode: 0o600 });
    if (isRoot) Deno.chownSync(file, NOBODY, NOBODY);
    const drop = isRoot
      ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"]
      : [];
    const [command, ...args] = [...drop, hook];
    const started = performance.now();
    const output = await new Deno.Command(command, {
      args,
      cwd: "/",
      stdin: "null",
      stdout: "null",
      clearEnv: true,
      env: {
        PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:${
          Deno.execPath().replace(/\/[^/]+$/, "")
        }`,
        HOME: `${base}/home`,
        LC_ALL: "C.UTF8",
        LIBVIRT_DEFAULT_URI: uri,
        _hook_domxml: file,
        extnet_pg: values.network,
        vmId: crypto.randomUUID(),
      },
    }).output();
    const milliseconds = performance.now() - started;
    const stderr = new TextDecoder().decode(output.stderr).trim();
    const changed = Deno.readTextFileSync(file) !== input;
    return { code: output.code, stderr, milliseconds, changed };
  };

  if (!values["fresh-cache"]) await runOnce(-1); // a warm cache, as on a host running VMs
  const results = await Promise.all(Array.from({ length: runs }, (_, i) => runOnce(i)));

  const outcomes = new Map<string, number>();
  for (const { code, stderr, changed } of results) {
    const line = stderr.replace(/vNIC [0-9a-f:]+/g, "vNIC <mac>");
    const key = code === 0 && changed ? `exit 0, rewritten: ${line}` : `exit ${code}: ${line}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  const times = results.map((r) => r.milliseconds).sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  const refused = results.filter((r) => r.code !== 0).length;
  console.log(
    `${runs} concurrent hook runs at before_device_create, ${
      values["fresh-cache"] ? "fresh" : "warm"
    } Deno cache, ${uri}, ${navigator.hardwareConcurrency} CPUs${isRoot ? ", as nobody" : ""}`,
  );
  console.log(`refused or failed: ${refused} of ${runs}`);
  for (const [outcome, count] of outcomes) console.log(`  ${count} x ${outcome}`);
  const ms = (value: number) => `${Math.round(value)} ms`;
  console.log(
    `latency: min ${ms(times[0])}, p50 ${ms(at(0.5))}, p90 ${ms(at(0.9))}, ` +
      `p99 ${ms(at(0.99))}, max ${ms(times.at(-1)!)}`,
  );
  if (refused > 0) Deno.exitCode = 1;
} finally {
  Deno.removeSync(base, { recursive: true });
}

// Copies `names` of the tree at `from` to `to`, readable by every user.
function copyTree(from: string, to: string, names?: string[]): void {
  Deno.mkdirSync(to);
  Deno.chmodSync(to, 0o755);
  for (const name of names ?? [...Deno.readDirSync(from)].map((entry) => entry.name)) {
    const info = Deno.statSync(`${from}/${name}`);
    if (info.isDirectory) copyTree(`${from}/${name}`, `${to}/${name}`);
    else {
      Deno.copyFileSync(`${from}/${name}`, `${to}/${name}`);
      Deno.chmodSync(`${to}/${name}`, (info.mode! & 0o111) ? 0o755 : 0o644);
    }
  }
}
