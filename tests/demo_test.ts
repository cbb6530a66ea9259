import assert from "node:assert/strict";
import { ROOT, withVirsh } from "./helpers.ts";

const TASKS: Record<string, string> = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;

/** Runs `deno task demo` (its command line from deno.json) with `path` as PATH. */
async function demo(path: string): Promise<{ code: number; stdout: string }> {
  const [, ...args] = TASKS.demo.split(" ");
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: { PATH: path, HOME: Deno.env.get("HOME") ?? "/tmp" },
  }).output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

withVirsh.test("the demo shows the hook redirecting the bundled vNIC onto its Open vSwitch VLAN", async () => {
  const { code, stdout } = await demo(Deno.env.get("PATH") ?? "/usr/bin:/bin");
  assert.equal(code, 0);
  assert.match(
    stdout,
    /^exit 0; stderr: network-nat: vNIC 00:1a:4a:16:01:b0 -> network ovs-net:vlan-20/m,
  );
  assert.match(stdout, /^\+ {4}<source network="ovs-net" portgroup="vlan-20"\/>$/m);
  assert.match(stdout, /^\+ {4}<vlan><tag id="20"\/><\/vlan>$/m);
});

Deno.test("without virsh the demo shows the refusal, then the rewrite without the check", async () => {
  const bin = Deno.makeTempDirSync({ prefix: "network-nat-demo-bin-" });
  try {
    Deno.symlinkSync(Deno.execPath(), `${bin}/deno`);
    const { code, stdout } = await demo(bin);
    assert.equal(code, 0);
    assert.match(stdout, /^exit 2; stderr: network-nat: .*virsh is not installed/m);
    assert.match(stdout, /^\(the file is unchanged\)$/m);
    assert.match(stdout, /^\+ {4}<source network="ovs-net" portgroup="vlan-20"\/>$/m);
  } finally {
    Deno.removeSync(bin, { recursive: true });
  }
});
