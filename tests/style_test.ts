// The tree stays formatted, lint-clean and type-checked: `deno test` type-checks only what the
// tests import, and the entry points run as processes.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const ENTRY_POINTS = ["main.ts", "install.ts", "admin.ts", "samples/demo.ts", "bench/bench.ts"];

const cases: [string, string[]][] = [
  ["is formatted as deno fmt formats it", ["fmt", "--check"]],
  ["passes deno lint", ["lint"]],
  ["type-checks the entry points that tests run as processes", ["check", ...ENTRY_POINTS]],
];

for (const [name, args] of cases) {
  Deno.test(`the source ${name}`, async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const output = new TextDecoder().decode(new Uint8Array([...stdout, ...stderr]));
    assert.equal(code, 0, `deno ${args.join(" ")} failed:\n${output}`);
  });
}
