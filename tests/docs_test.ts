/**
 * Every ```console example in README.md and docs/ runs as printed: each block's
 * `$ ` lines run, in order, in one bash from the top of a fresh copy of the
 * checkout (what git would clone, with the working tree's contents), with no
 * variable of this session but PATH and HOME; what they print (stdout and
 * stderr, colours removed) must be the lines under them.
 *
 * A block that needs what a machine may lack says so on the line above it
 * (blank lines between are allowed):
 * `<!-- docs-test: needs virsh, root -->` (commands on PATH, or root); it is
 * then ignored here, with the reason, except under CI (see `needing`).
 *
 * `UPDATE_DOCS=1 deno test -A tests/docs_test.ts` rewrites the printed outputs
 * in place from what the commands print now (after a merge, say).
 *
 * @module
 */

import assert from "node:assert/strict";
import { missingCommands, needing, ROOT } from "./helpers.ts";

const UPDATE = Deno.env.get("UPDATE_DOCS") === "1";
const MARKER = /^<!-- docs-test: needs ([^>]*?) -->$/;

/** One console example: where it is, what it needs, its commands and their printed output. */
interface Example {
  file: string;
  line: number;
  needs: string[];
  /** The block's text between the fences. */
  text: string;
  commands: { command: string; output: string[] }[];
}

/** The ```console blocks of a Markdown text. */
function examples(file: string, markdown: string): Example[] {
  const lines = markdown.split("\n");
  const found: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```console") continue;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `${file}:${i + 1}: a console block without its closing fence`);
    const body = lines.slice(i + 1, end);
    assert.ok(body[0]?.startsWith("$ "), `${file}:${i + 1}: a console block starts with "$ "`);
    const commands: Example["commands"] = [];
    for (const line of body) {
      if (line.startsWith("$ ")) commands.push({ command: line.slice(2), output: [] });
      else commands.at(-1)!.output.push(line);
    }
    let above = i - 1; // the marker may be separated from the fence by blank lines
    while (above > 0 && lines[above] === "") above--;
    const marker = lines[above]?.match(MARKER);
    const needs = marker ? marker[1].split(",").map((need) => need.trim()) : [];
    found.push({ file, line: i + 1, needs, text: body.join("\n"), commands });
    i = end;
  }
  return found;
}

function whatIsMissing(needs: string[]): string | undefined {
  const missing = [
    ...(needs.includes("root") && Deno.uid() !== 0 ? ["needs root"] : []),
    ...[missingCommands(...needs.filter((need) => need !== "root")) ?? []].flat(),
  ];
  return missing.length ? missing.join("; ") : undefined;
}

let checkout: string | undefined;

/** A fresh copy of what a clone of this checkout holds, made once, gone at the end. */
function freshCheckout(): string {
  if (checkout) return checkout;
  const base = Deno.makeTempDirSync({ prefix: "network-nat-docs-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(base, { recursive: true }));
  const listed = new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
  }).outputSync();
  assert.ok(listed.success, "git ls-files lists the checkout's files");
  for (const name of new TextDecoder().decode(listed.stdout).split("\0").filter(Boolean)) {
    const from = `${ROOT}${name}`;
    let mode: number;
    try {
      mode = Deno.statSync(from).mode!;
    } catch {
      continue; // deleted in the working tree
    }
    const to = `${base}/network-nat/${name}`;
    Deno.mkdirSync(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    Deno.copyFileSync(from, to);
    Deno.chmodSync(to, mode & 0o111 ? 0o755 : 0o644);
  }
  return checkout = `${base}/network-nat`;
}

// Colour codes (ESC [ ... m), which Deno prints even into a pipe.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Runs the example's commands in one shell; returns each command's output lines. */
async function run(example: Example): Promise<string[][]> {
  const separator = `--- docs-test ${crypto.randomUUID()} ---`;
  // The separator keeps each command's exit status for the next one (`echo $?`).
  const script = example.commands
    .map(({ command }) => `${command}\nstatus=$?; echo '${separator}'; (exit $status)`)
    .join("\n");
  const home = Deno.env.get("HOME");
  const output = await new Deno.Command("bash", {
    args: ["-c", `exec 2>&1\n${script}`],
    cwd: freshCheckout(),
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...(home ? { HOME: home } : {}) },
    stdin: "null",
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).replace(ANSI, "");
  const parts = text.split(`${separator}\n`);
  assert.equal(parts.length, example.commands.length + 1, `every command ran:\n${text}`);
  return parts.slice(0, -1).map((part) => part === "" ? [] : part.replace(/\n$/, "").split("\n"));
}

function transcript(commands: { command: string; output: string[] }[]): string {
  return commands.flatMap(({ command, output }) => [`$ ${command}`, ...output]).join("\n");
}

const FILES = [
  "README.md",
  ...[...Deno.readDirSync(`${ROOT}docs`)].filter((entry) => entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`).sort(),
];

for (const file of FILES) {
  for (const example of examples(file, Deno.readTextFileSync(`${ROOT}${file}`))) {
    const { command: first } = example.commands.find(({ command }) => command.startsWith("deno")) ??
      example.commands[0];
    Deno.test(needing(whatIsMissing(example.needs), {
      name: `${file}:${example.line} runs as printed: ${first}`,
      fn: async () => {
        const outputs = await run(example);
        const actual = transcript(
          example.commands.map(({ command }, i) => ({ command, output: outputs[i] })),
        );
        if (UPDATE) {
          const path = `${ROOT}${file}`;
          const text = Deno.readTextFileSync(path);
          const block = `\`\`\`console\n${example.text}\n\`\`\``;
          assert.equal(text.split(block).length, 2, `${file}:${example.line}: the block is unique`);
          Deno.writeTextFileSync(
            path,
            text.replace(block, () => `\`\`\`console\n${actual}\n\`\`\``),
          );
          return;
        }
        assert.equal(
          actual,
          example.text,
          `${file}:${example.line} prints otherwise now (UPDATE_DOCS=1 rewrites it)`,
        );
      },
    }));
  }
}

Deno.test("a block's commands share one shell: its folder, variables and exit status", async () => {
  const markdown = "<!-- docs-test: needs root, virsh -->\n\n```console\n$ cd samples\n" +
    "$ export X=1; false\n$ echo $?\n1\n$ echo $X $(basename $PWD)\n1 samples\n```\n";
  const [example] = examples("example.md", markdown);
  assert.deepEqual(example.needs, ["root", "virsh"]);
  assert.deepEqual(await run(example), [[], [], ["1"], ["1 samples"]]);
});

Deno.test("README and docs: commands, prose and tables fit a terminal (100 characters)", () => {
  for (const file of FILES) {
    let inOutput = false;
    Deno.readTextFileSync(`${ROOT}${file}`).split("\n").forEach((line, i) => {
      if (line.startsWith("```")) inOutput = line === "```console" || line === "```text";
      // Output is shown as printed; commands, prose and tables are written to fit.
      if (!inOutput || line.startsWith("$ ")) {
        assert.ok(line.length <= 100, `${file}:${i + 1} is ${line.length} characters wide`);
      }
    });
  }
});

Deno.test("README and docs: every relative link leads to a file of the checkout", () => {
  for (const file of FILES) {
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
    const text = Deno.readTextFileSync(`${ROOT}${file}`);
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(
        Deno.statSync(`${ROOT}${dir}${target}`),
        `${file}: the link to ${target} leads nowhere`,
      );
    }
  }
});
