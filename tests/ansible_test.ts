/**
 * The Ansible playbook (`ansible/network-nat.yml`) run by Debian's ansible-core on an
 * inventory of two hosts that run locally (`ansible_connection=local`), each with its own
 * checkout, Deno, hooks directory and libvirt test-driver node; the second host's node is
 * drifted (a portgroup missing, another VLAN). The play must install and self-test the hook
 * on both, fail naming the drift, pass once the drift is gone, and change nothing when run
 * again. ansible-lint must find nothing in the playbook.
 *
 * Without ansible-playbook (or ansible-lint) the test is ignored, its name says why, unless
 * `CI=true`: then it runs and fails.
 */

import assert from "node:assert/strict";
import { HOOK_POINTS } from "../lib/hook.ts";
import { HOOK_NAME } from "../admin/install_plan.ts";
import { ROOT } from "./helpers.ts";

const IN_CI = Deno.env.get("CI") === "true";
const decoder = new TextDecoder();

function onPath(tool: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(command, {
    args,
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

const HOSTS = ["hv1", "hv2"];
const NETWORKS = Deno.readTextFileSync(`${ROOT}samples/networks.xml`);

/** The sample networks with ovs-net's portgroup vlan-20 gone and vlan-10 on VLAN 11. */
function drifted(): string {
  const vlan20 = /\s*<portgroup name='vlan-20'>\s*<vlan><tag id='20'\/><\/vlan>\s*<\/portgroup>/;
  const vlan10 = "<portgroup name='vlan-10'>\n      <vlan><tag id='10'/></vlan>";
  assert.match(NETWORKS, vlan20);
  assert.ok(NETWORKS.includes(vlan10));
  return NETWORKS.replace(vlan20, "").replace(vlan10, vlan10.replace("'10'/>", "'11'/>"));
}

/** The play's log lines of one task, from its header to the next. */
function taskLog(output: string, task: string): string {
  const start = output.indexOf(`TASK [network_nat : ${task}]`);
  assert.ok(start >= 0, `no task '${task}' in:\n${output}`);
  const end = output.indexOf("\nTASK [", start + 1);
  return output.slice(start, end < 0 ? undefined : end);
}

/** Each host's PLAY RECAP counts, e.g. `{ hv1: { ok: 11, changed: 0, failed: 0, ... } }`. */
function recap(output: string): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const match of output.matchAll(/^(\S+)\s+:\s+(ok=.*)$/gm)) {
    counts[match[1]] = Object.fromEntries(
      [...match[2].matchAll(/(\w+)=(\d+)/g)].map(([, key, value]) => [key, Number(value)]),
    );
  }
  return counts;
}

const ansibleMissing = !onPath("ansible-playbook");

Deno.test({
  name: ansibleMissing && !IN_CI
    ? "ansible playbook: IGNORED (ansible-playbook is not installed: apt-get install ansible-core)"
    : "ansible playbook: installs and self-tests on two local hosts, fails naming a drifted " +
      "portgroup and VLAN, passes once the drift is gone, then changes nothing",
  ignore: ansibleMissing && !IN_CI,
  fn: async () => {
    assert.ok(!ansibleMissing, "ansible-playbook is missing (apt-get install ansible-core)");
    const base = Deno.makeTempDirSync({ prefix: "nnat-ansible." });
    Deno.chmodSync(base, 0o755);
    try {
      const hosts: Record<string, Record<string, unknown>> = {};
      for (const host of HOSTS) {
        const dir = `${base}/${host}`;
        // What VDSM's package leaves: the hook point directories.
        for (const point of HOOK_POINTS) {
          Deno.mkdirSync(`${dir}/hooks/${point}`, { recursive: true });
        }
        Deno.mkdirSync(`${dir}/bin`);
        Deno.writeTextFileSync(`${dir}/node.xml`, host === "hv2" ? drifted() : NETWORKS);
        hosts[host] = {
          network_nat_dest: `${dir}/opt/network-nat`,
          network_nat_deno_dest: `${dir}/bin/deno`,
          network_nat_hooks_dir: `${dir}/hooks`,
          network_nat_service_path: `${dir}/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
          network_nat_environment: { LIBVIRT_DEFAULT_URI: `test://${dir}/node.xml` },
        };
      }
      const inventory = `${base}/inventory.yml`;
      Deno.writeTextFileSync(
        inventory,
        JSON.stringify({
          all: {
            vars: {
              ansible_connection: "local",
              ansible_become: false,
              ansible_python_interpreter: "/usr/bin/python3",
              network_nat_deno_source: Deno.execPath(),
              network_nat_controller_deno: Deno.execPath(),
              network_nat_reports_dir: `${base}/reports`,
            },
            hosts,
          },
        }),
      );
      Deno.mkdirSync(`${base}/ansible`);
      const env = {
        ANSIBLE_HOME: `${base}/ansible`,
        ANSIBLE_LOCAL_TEMP: `${base}/ansible/tmp`,
        ANSIBLE_REMOTE_TEMP: `${base}/ansible/tmp`,
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_PIPELINING: "1",
        ANSIBLE_RETRY_FILES_ENABLED: "0",
      };
      const play = () =>
        run("ansible-playbook", ["-i", inventory, `${ROOT}ansible/network-nat.yml`], env);

      const first = await play();
      assert.notEqual(first.code, 0, `the play passed despite the drift:\n${first.output}`);
      // It got as far as comparing the hosts: both installed and self-tested.
      for (const host of HOSTS) {
        for (const point of HOOK_POINTS) {
          assert.equal(
            Deno.realPathSync(`${base}/${host}/hooks/${point}/${HOOK_NAME}`),
            `${base}/${host}/opt/network-nat/main.ts`,
          );
        }
        assert.match(
          taskLog(first.output, "Install the hook at its four hook points and self-test it"),
          new RegExp(`^changed: \\[${host}\\]`, "m"),
        );
      }
      const table = taskLog(first.output, "Show the fleet table");
      assert.match(table, /2 hosts DIFFER/);
      assert.match(
        table,
        /ovs-net on hv2 differs from hv1: portgroup vlan-10 has VLAN 11, not VLAN 10;/,
      );
      assert.match(table, /no portgroup vlan-20/);
      assert.match(table, /ovs-net:vlan-20: refused on hv2 \(no portgroup vlan-20\)/);
      assert.match(
        taskLog(first.output, "Fail when the hosts differ"),
        /fatal: .*the hosts differ/,
      );

      // A file of a host's checkout changed there: the next run puts this checkout's back.
      const changed = `${base}/hv1/opt/network-nat/lib/hook.ts`;
      Deno.writeTextFileSync(changed, "// changed on the host\n", { append: true });
      Deno.writeTextFileSync(`${base}/hv2/node.xml`, NETWORKS);
      const second = await play();
      assert.equal(second.code, 0, second.output);
      assert.equal(Deno.readTextFileSync(changed), Deno.readTextFileSync(`${ROOT}lib/hook.ts`));
      assert.match(taskLog(second.output, "Show the fleet table"), /2 hosts agree/);

      const third = await play();
      assert.equal(third.code, 0, third.output);
      const counts = recap(third.output);
      assert.deepEqual(Object.keys(counts).sort(), HOSTS);
      for (const host of HOSTS) {
        assert.equal(counts[host].changed, 0, `${host} changed on a second run:\n${third.output}`);
        assert.equal(counts[host].failed, 0);
      }
    } finally {
      Deno.removeSync(base, { recursive: true });
    }
  },
});

const lintMissing = !onPath("ansible-lint");

Deno.test({
  name: lintMissing && !IN_CI
    ? "ansible playbook lint: IGNORED (ansible-lint is not installed: apt-get install ansible-lint)"
    : "ansible playbook: ansible-lint finds nothing (production profile, offline)",
  ignore: lintMissing && !IN_CI,
  fn: async () => {
    assert.ok(!lintMissing, "ansible-lint is missing (apt-get install ansible-lint)");
    const home = Deno.makeTempDirSync({ prefix: "nnat-ansible-lint." });
    try {
      const lint = await run(
        "ansible-lint",
        ["--offline", "--profile", "production", "--nocolor", "ansible/network-nat.yml"],
        { ANSIBLE_HOME: home, HOME: home, NO_COLOR: "1" },
      );
      assert.equal(lint.code, 0, lint.output);
    } finally {
      Deno.removeSync(home, { recursive: true });
    }
  },
});
