import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- inline: npm packages in deno.json make every task fetch them (offline hosts)
import fc from "npm:fast-check@4.11.0";
import { colourDiff, splitLines, unifiedDiff } from "../admin/diff.ts";

/** Applies a unified diff with GNU patch and returns the result. */
async function patched(before: string, diff: string): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix: "network-nat-diff-" });
  try {
    Deno.writeTextFileSync(`${dir}/file`, before);
    const child = new Deno.Command("patch", {
      args: ["-s", "-f", "--no-backup-if-mismatch", `${dir}/file`],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(diff));
    await writer.close();
    const output = await child.output();
    assert.ok(
      output.success,
      new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr),
    );
    return Deno.readTextFileSync(`${dir}/file`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("equal texts have no diff", () => {
  assert.equal(unifiedDiff("a\nb\n", "a\nb\n", { from: "x", to: "y" }), "");
  assert.equal(unifiedDiff("", "", { from: "x", to: "y" }), "");
});

Deno.test("prints a hunk with three lines of context, like diff -u", () => {
  const before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  assert.equal(
    unifiedDiff(before, after, { from: "old", to: "new" }),
    "--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
  );
});

Deno.test("keeps distant changes in separate hunks and close ones together", () => {
  const lines = Array.from({ length: 20 }, (_, i) => `${i + 1}\n`);
  const after = [...lines];
  after[1] = "two\n";
  after[17] = "eighteen\n";
  const diff = unifiedDiff(lines.join(""), after.join(""), { from: "a", to: "b" });
  assert.deepEqual(diff.split("\n").filter((l) => l.startsWith("@@")), [
    "@@ -1,5 +1,5 @@",
    "@@ -15,6 +15,6 @@",
  ]);
  after[8] = "nine\n"; // 6 unchanged lines from the first change: same hunk
  const joined = unifiedDiff(lines.join(""), after.join(""), { from: "a", to: "b" });
  assert.deepEqual(joined.split("\n").filter((l) => l.startsWith("@@")), [
    "@@ -1,12 +1,12 @@",
    "@@ -15,6 +15,6 @@",
  ]);
  after[9] = "ten\n"; // 7 unchanged lines before the last change: still two hunks
  const two = unifiedDiff(lines.join(""), after.join(""), { from: "a", to: "b" });
  assert.equal(two.split("\n").filter((l) => l.startsWith("@@")).length, 2);
  after[12] = "thirteen\n";
  const one = unifiedDiff(lines.join(""), after.join(""), { from: "a", to: "b" });
  assert.deepEqual(one.split("\n").filter((l) => l.startsWith("@@")), ["@@ -1,20 +1,20 @@"]);
});

Deno.test("writes empty ranges and insertions at the start as diff -u does", () => {
  assert.equal(
    unifiedDiff("", "a\n", { from: "a", to: "b" }),
    "--- a\n+++ b\n@@ -0,0 +1 @@\n+a\n",
  );
  assert.equal(
    unifiedDiff("a\n", "", { from: "a", to: "b" }),
    "--- a\n+++ b\n@@ -1 +0,0 @@\n-a\n",
  );
});

Deno.test("marks a last line without newline", () => {
  assert.equal(
    unifiedDiff("a\nb", "a\nb\n", { from: "x", to: "y" }),
    "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
  );
});

Deno.test("agrees with GNU diff -u on a hook rewrite", async () => {
  const before = '<interface type="bridge">\n  <mac address="00:1a:4a:16:01:b0"/>\n' +
    '  <source bridge="ovirtmgmt"/>\n  <model type="virtio"/>\n</interface>\n';
  const after = before.replace('"bridge"', '"network"').replace(
    'bridge="ovirtmgmt"/>',
    'network="ovs-net" portgroup="vlan-20"/>\n  <vlan><tag id="20"/></vlan>',
  );
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/a`, before);
  Deno.writeTextFileSync(`${dir}/b`, after);
  const gnu = await new Deno.Command("diff", { args: ["-u", `${dir}/a`, `${dir}/b`] }).output();
  Deno.removeSync(dir, { recursive: true });
  const body = (text: string) => text.split("\n").slice(2).join("\n");
  assert.equal(
    body(unifiedDiff(before, after, { from: "a", to: "b" })),
    body(new TextDecoder().decode(gnu.stdout)),
  );
});

Deno.test("every diff applies with patch and gives the new text", async () => {
  const line = fc.constantFrom("a", "b", "c", "<x/>", "  <y z='1'/>", "");
  const text = fc.tuple(fc.array(line, { maxLength: 12 }), fc.boolean()).map(([lines, newline]) =>
    lines.length ? lines.join("\n") + (newline ? "\n" : "") : ""
  );
  await fc.assert(
    fc.asyncProperty(text, text, async (before, after) => {
      fc.pre(before !== after && !(before === "" || after === ""));
      const diff = unifiedDiff(before, after, { from: "file", to: "file" });
      assert.equal(await patched(before, diff), after);
    }),
    { numRuns: 60 },
  );
});

Deno.test("splits lines keeping newlines", () => {
  assert.deepEqual(splitLines(""), []);
  assert.deepEqual(splitLines("a\n\nb"), ["a\n", "\n", "b"]);
});

Deno.test("colours headers, hunks, removals and additions", () => {
  assert.equal(
    colourDiff("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z\n"),
    "\x1b[1m--- a\x1b[0m\n\x1b[1m+++ b\x1b[0m\n\x1b[36m@@ -1 +1 @@\x1b[0m\n" +
      "\x1b[31m-x\x1b[0m\n\x1b[32m+y\x1b[0m\n z\n",
  );
});
