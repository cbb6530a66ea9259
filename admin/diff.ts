/**
 * A small line-based unified diff (as `diff -u` prints it), for showing what
 * the hook would change in a device XML.
 *
 * @module
 */

/** How {@linkcode unifiedDiff} labels and cuts its output. */
export interface DiffOptions {
  /** The name on the `---` line. */
  from: string;
  /** The name on the `+++` line. */
  to: string;
  /** Unchanged lines shown around each change; 3, as `diff -u`. */
  context?: number;
}

type Op = { kind: " " | "-" | "+"; line: string };

/**
 * Splits text into lines, each keeping its `\n`; a last line without one stays
 * without, so that "no newline at end of file" counts as a difference.
 *
 * @example
 * ```ts
 * import { splitLines } from "./diff.ts";
 * splitLines("a\nb"); // ["a\n", "b"]
 * ```
 */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

// The edit script from `a` to `b`: a longest common subsequence of whole lines,
// after taking off the common head and tail (hook edits are a few lines of a short file).
function editScript(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head && tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  ) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  // lcs[i][j]: length of the longest common subsequence of x[i..] and y[j..].
  const lcs = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops: Op[] = a.slice(0, head).map((line) => ({ kind: " ", line }));
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ kind: " ", line: x[i++] });
      j++;
    } else if (j >= y.length || (i < x.length && lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push({ kind: "-", line: x[i++] });
    } else {
      ops.push({ kind: "+", line: y[j++] });
    }
  }
  for (const line of a.slice(a.length - tail)) ops.push({ kind: " ", line });
  return ops;
}

// A hunk range as diff -u writes it: "start,count", ",count" left out when it is 1,
// and an empty range starting at the line before it.
function range(start: number, count: number): string {
  if (count === 1) return `${start + 1}`;
  return `${count === 0 ? start : start + 1},${count}`;
}

/**
 * Returns the unified diff that turns `before` into `after`, or `""` when the
 * texts are equal. A last line without a newline is marked `\ No newline at
 * end of file`, as `diff -u` does, so the output applies with `patch`.
 *
 * @example
 * ```ts
 * import { unifiedDiff } from "./diff.ts";
 * unifiedDiff("a\nb\n", "a\nc\n", { from: "old", to: "new" });
 * // "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
 * ```
 */
export function unifiedDiff(before: string, after: string, options: DiffOptions): string {
  if (before === after) return "";
  const context = options.context ?? 3;
  const ops = editScript(splitLines(before), splitLines(after));
  const changed = ops.flatMap((op, index) => op.kind === " " ? [] : [index]);
  let out = `--- ${options.from}\n+++ ${options.to}\n`;
  let k = 0;
  while (k < changed.length) {
    // Group changes whose context would touch or overlap into one hunk.
    const first = changed[k];
    let last = first;
    while (k + 1 < changed.length && changed[k + 1] - last <= 2 * context + 1) last = changed[++k];
    k++;
    const start = Math.max(0, first - context);
    const end = Math.min(ops.length, last + context + 1);
    let oldStart = 0;
    let newStart = 0;
    for (const op of ops.slice(0, start)) {
      if (op.kind !== "+") oldStart++;
      if (op.kind !== "-") newStart++;
    }
    const hunk = ops.slice(start, end);
    const oldCount = hunk.filter((op) => op.kind !== "+").length;
    const newCount = hunk.filter((op) => op.kind !== "-").length;
    out += `@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@\n`;
    for (const op of hunk) {
      out += op.kind +
        (op.line.endsWith("\n") ? op.line : `${op.line}\n\\ No newline at end of file\n`);
    }
  }
  return out;
}

const ANSI = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  cyan: "\x1b[36m",
};

/**
 * Colours a unified diff for a terminal: headers bold, hunk ranges cyan,
 * removed lines red, added lines green.
 *
 * @example
 * ```ts
 * import { colourDiff } from "./diff.ts";
 * colourDiff("-a\n+b\n"); // "\x1b[31m-a\x1b[0m\n\x1b[32m+b\x1b[0m\n"
 * ```
 */
export function colourDiff(diff: string): string {
  return splitLines(diff).map((line) => {
    const text = line.replace(/\n$/, "");
    const colour = /^(---|\+\+\+) /.test(text)
      ? ANSI.bold
      : text.startsWith("@@")
      ? ANSI.cyan
      : text.startsWith("-")
      ? ANSI.red
      : text.startsWith("+")
      ? ANSI.green
      : "";
    return (colour ? `${colour}${text}${ANSI.reset}` : text) + (line.endsWith("\n") ? "\n" : "");
  }).join("");
}
