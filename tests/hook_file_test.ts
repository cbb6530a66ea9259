// Reading and replacing the device XML file: only what VDSM writes, never a stranger's file.
import assert from "node:assert/strict";
import { MAX_HOOK_FILE_BYTES, readHookFile, replaceHookFile } from "../host/hook_file.ts";
import { Refusal } from "../lib/refusal.ts";

function scratch(): string {
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-hook-file-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  return dir;
}

Deno.test("refuses at once, without reading it, what VDSM never writes", () => {
  const dir = scratch();
  new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
  Deno.symlinkSync(`${dir}/big`, `${dir}/link`);
  Deno.writeFileSync(`${dir}/big`, new Uint8Array(MAX_HOOK_FILE_BYTES + 1));
  const table: [string, RegExp][] = [
    [`${dir}/fifo`, /is a FIFO, not a regular file as VDSM writes$/],
    ["/dev/zero", /is a character device, not a regular file/],
    [dir, /is a directory, not a regular file/],
    [`${dir}/link`, /is a symbolic link, not a regular file/],
    [`${dir}/big`, /has 1048577 bytes or more, over the 1048576 a device XML may have/],
    [`${dir}/missing`, /does not exist \(VDSM removes it when the hook point is done\)$/],
  ];
  for (const [path, reason] of table) {
    const started = performance.now();
    assert.throws(() => readHookFile(path), (error: Error) => {
      assert.ok(error instanceof Refusal, path);
      assert.match(error.message, /^the device XML file .* \(_hook_domxml\) /);
      assert.match(error.message, reason);
      return true;
    });
    assert.ok(performance.now() - started < 1000, path);
  }
  Deno.writeFileSync(`${dir}/big`, new Uint8Array(MAX_HOOK_FILE_BYTES).fill(32));
  assert.equal(readHookFile(`${dir}/big`).length, MAX_HOOK_FILE_BYTES, "1 MiB is read");
});

Deno.test("replaces the file keeping its mode, under a name no one could take first", () => {
  const dir = scratch();
  const path = `${dir}/hook_domxml-x`;
  for (const mode of [0o600, 0o640, 0o644]) {
    Deno.writeTextFileSync(path, "<interface/>");
    Deno.chmodSync(path, mode);
    // The name the hook used to write to: someone else's file there is left alone.
    Deno.writeTextFileSync(`${path}.network-nat-new`, "not ours");
    replaceHookFile(path, "<interface type='network'/>");
    assert.equal(Deno.readTextFileSync(path), "<interface type='network'/>");
    assert.equal(Deno.statSync(path).mode! & 0o777, mode);
    assert.equal(Deno.readTextFileSync(`${path}.network-nat-new`), "not ours");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "hook_domxml-x",
      "hook_domxml-x.network-nat-new",
    ]);
  }
});

Deno.test("a failed replacement leaves the original as it was and no file of its own", () => {
  const dir = scratch();
  // rename(2) cannot put a file over a non-empty directory: the last step fails.
  Deno.mkdirSync(`${dir}/hook_domxml-dir/inside`, { recursive: true });
  assert.throws(
    () => replaceHookFile(`${dir}/hook_domxml-dir`, "<interface/>"),
    (error: Error) => {
      assert.ok(error instanceof Refusal);
      assert.match(error.message, /hook_domxml-dir \(_hook_domxml\) .*; nothing was changed$/);
      return true;
    },
  );
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["hook_domxml-dir"]);
  assert.throws(
    () => replaceHookFile(`${dir}/missing`, "<interface/>"),
    /missing \(_hook_domxml\) does not exist .*; nothing was changed$/,
  );
});

Deno.test("says so when the directory cannot take the new file", () => {
  if (Deno.uid() === 0) return; // root writes anywhere; main_test runs this as nobody
  const dir = scratch();
  Deno.writeTextFileSync(`${dir}/f`, "<interface/>");
  Deno.chmodSync(dir, 0o555);
  try {
    assert.throws(
      () => replaceHookFile(`${dir}/f`, "<x/>"),
      /cannot be replaced by the user the hook runs as: .* the directory must be writable/,
    );
  } finally {
    Deno.chmodSync(dir, 0o755);
  }
});
