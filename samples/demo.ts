/**
 * `deno task demo`: runs the hook the way VDSM runs it at a VM start, on the
 * bundled vNIC `samples/vnic.xml` with `extnet_pg=ovs-net:vlan-20`, against the
 * networks of `samples/networks.xml` (libvirt's test driver, no daemon), and
 * shows the exit code, the hook's stderr line and the change it made.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { unifiedDiff } from "../admin/diff.ts";
import { HOOK_POINTS, runHook } from "../lib/hook.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const point = HOOK_POINTS[0];
const property = Deno.args[0] ?? "ovs-net:vlan-20";
const home = Deno.env.get("HOME");
const work = Deno.makeTempDirSync({ prefix: "network-nat-demo-" });
try {
  const hook = `${work}/hooks/${point}/50_network_nat`;
  Deno.mkdirSync(`${work}/hooks/${point}`, { recursive: true });
  Deno.symlinkSync(`${root}main.ts`, hook);
  const before = Deno.readTextFileSync(`${root}samples/vnic.xml`);
  const file = `${work}/hook_domxml`;
  Deno.writeTextFileSync(file, before, { mode: 0o600 });

  console.log(`VDSM runs: extnet_pg=${property} _hook_domxml=FILE ${point}/50_network_nat`);
  const { code, stderr } = await new Deno.Command(hook, {
    cwd: "/",
    stdin: "null",
    stdout: "null",
    // Only what VDSM would set, and the PATH and HOME the hook needs to find and cache Deno:
    // none of the caller's other variables (provider_type, say) reach the hook.
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      ...(home === undefined ? {} : { HOME: home }),
      extnet_pg: property,
      _hook_domxml: file,
      // A URI, so its path stays percent-encoded.
      LIBVIRT_DEFAULT_URI: `test://${new URL("networks.xml", import.meta.url).pathname}`,
    },
  }).output();
  console.log(`exit ${code}; stderr: ${new TextDecoder().decode(stderr).trim()}\n`);
  const after = Deno.readTextFileSync(file);
  console.log(
    unifiedDiff(before, after, { from: "samples/vnic.xml", to: "what VDSM gets back" }).trimEnd() ||
      "(the file is unchanged)",
  );
  if (/virsh is not installed/.test(new TextDecoder().decode(stderr))) {
    // A fresh machine without libvirt: still show the rewrite, through the hook's own code.
    const alone = await runHook({ point, property, xml: before });
    console.log(
      "The hook never redirects a vNIC to a network it cannot check: install virsh (Debian:\n" +
        "apt-get install libvirt-clients; EL: dnf install libvirt-client) and run this again.\n" +
        "Without the libvirt check (so without what an Open vSwitch network adds), it would\n" +
        `write this; deno task preview samples/vnic.xml --value ${property} --no-libvirt shows it too:\n`,
    );
    console.log(
      unifiedDiff(before, alone.xml ?? before, {
        from: "samples/vnic.xml",
        to: "the rewrite, libvirt not consulted",
      }).trimEnd(),
    );
  }
} finally {
  Deno.removeSync(work, { recursive: true });
}
