// The bounded virsh run: the deadline, the kill of virsh and all it started, the output bound.
import assert from "node:assert/strict";
import { runVirsh, virshError } from "../host/virsh.ts";
import { LibvirtUnavailable } from "../lib/refusal.ts";
import { ROOT } from "./helpers.ts";

const scratch = Deno.makeTempDirSync({ prefix: "network-nat-virsh-" });
globalThis.addEventListener("unload", () => Deno.removeSync(scratch, { recursive: true }));

/** A fake virsh: a shell script run as `sh SCRIPT virsh -r -c URI COMMANDS`. */
function fakeVirsh(name: string, script: string): string[] {
  const path = `${scratch}/${name}`;
  Deno.writeTextFileSync(path, script);
  return ["/bin/sh", path];
}

function running(pid: number): boolean {
  try {
    // A zombie waits only for its parent to reap it: it runs no more.
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function assertGone(pidFile: string): Promise<void> {
  const pids = Deno.readTextFileSync(pidFile).trim().split(/\s+/).map(Number);
  assert.ok(pids.length >= 2, "virsh and its child both started");
  for (let tries = 0; tries < 50 && pids.some(running); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(pids.filter(running), [], "no process of virsh's is left");
}

// Ignores SIGTERM, and leaves a child that holds its output open and outlives it.
function stubbornVirsh(pidFile: string): string[] {
  return fakeVirsh(
    `stubborn-${pidFile.split("/").pop()}`,
    `trap '' TERM\nsleep 60 &\necho $$ $! > ${pidFile}\nwait\n`,
  );
}

Deno.test("gives up on a virsh that does not answer, counted from its start, and kills it all", async () => {
  const pidFile = `${scratch}/hang.pids`;
  const started = performance.now();
  await assert.rejects(
    runVirsh("net-list", "qemu:///system", stubbornVirsh(pidFile), undefined, 500),
    (error: Error) => {
      assert.ok(error instanceof LibvirtUnavailable);
      assert.equal(
        error.message,
        "virsh -r -c qemu:///system did not answer within 0.5 s of being started " +
          "(is libvirtd running?)",
      );
      return true;
    },
  );
  assert.ok(performance.now() - started < 5000);
  await assertGone(pidFile);
});

Deno.test("kills virsh and its children when the answer is no longer needed", async () => {
  const pidFile = `${scratch}/cancel.pids`;
  const cancel = new AbortController();
  const run = runVirsh("net-list", "qemu:///system", stubbornVirsh(pidFile), cancel.signal);
  for (let tries = 0; tries < 50; tries++) {
    try {
      if (Deno.readTextFileSync(pidFile).trim().split(" ").length === 2) break;
    } catch {
      // not written yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  cancel.abort();
  await assert.rejects(run, /the answer was no longer needed/);
  await assertGone(pidFile);
});

Deno.test("waits for a slow virsh within the bound", async () => {
  const slow = fakeVirsh("slow", "sleep 1\necho answer\n");
  const output = await runVirsh("net-list", "qemu:///system", slow, undefined, 5000);
  assert.deepEqual(output, { success: true, stdout: "answer\n", stderr: "" });
});

Deno.test("refuses a virsh that prints more than any answer can be", async () => {
  const flood = fakeVirsh("flood", "exec cat /dev/zero\n");
  const started = performance.now();
  await assert.rejects(
    runVirsh("net-list", "qemu:///system", flood),
    /virsh printed more than 8388608 bytes, more than any answer can be/,
  );
  assert.ok(performance.now() - started < 10_000);
});

Deno.test("nothing keeps the process alive once virsh has answered", async () => {
  // A timer left running (AbortSignal.timeout) would hold a process that does not call exit.
  const script = `${scratch}/answer.ts`;
  Deno.writeTextFileSync(
    script,
    `import { runVirsh } from "${ROOT}host/virsh.ts";\n` +
      `await runVirsh("x", "test:///default", ["/bin/sh", "-c", "echo ok", "sh"]);\n`,
  );
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "--allow-read", "--allow-run", script],
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.ok(performance.now() - started < 10_000, `${performance.now() - started} ms`);
});

Deno.test("virshError keeps the reason virsh gives after a failed connection", () => {
  const table: [string, string][] = [
    [
      "error: failed to connect to the hypervisor\n" +
      "error: Failed to connect socket to '/var/run/libvirt/libvirt-sock-ro': No such file or directory\n",
      "failed to connect to the hypervisor: Failed to connect socket to " +
      "'/var/run/libvirt/libvirt-sock-ro': No such file or directory",
    ],
    [
      "error: failed to connect to the hypervisor\nerror: authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.manage'\n",
      "failed to connect to the hypervisor: authentication unavailable: no polkit agent " +
      "available to authenticate action 'org.libvirt.unix.manage'",
    ],
    ["error: failed to get network 'x'\nerror: internal error: boom\n", "internal error: boom"],
    ["", "virsh failed"],
  ];
  for (const [stderr, reason] of table) assert.equal(virshError(stderr), reason);
  assert.ok(virshError(`error: ${"x".repeat(100_000)}\n`).length < 400, "a long line is cut");
});
