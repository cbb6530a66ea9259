/**
 * Command-line plumbing of the entry points: options parsed into one-line usage
 * errors, and errors reduced to one line.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/**
 * A path the user typed, resolved against the folder they typed it in:
 * `deno task` runs its command in the checkout, and names the folder it was
 * started from in `INIT_CWD` (`initCwd`; unset outside a task). `-` (stdin or
 * stdout) stays as it is.
 *
 * @example
 * ```ts
 * import { typedPath } from "./cli.ts";
 * typedPath("vnic.xml", "/opt/network-nat/samples"); // "/opt/network-nat/samples/vnic.xml"
 * typedPath("/tmp/vnic.xml", "/opt/network-nat/samples"); // "/tmp/vnic.xml"
 * typedPath("-", "/opt/network-nat/samples"); // "-"
 * typedPath("vnic.xml", undefined); // "vnic.xml"
 * ```
 */
export function typedPath(path: string, initCwd: string | undefined): string {
  return path === "-" || initCwd === undefined ? path : resolve(initCwd, path);
}

/**
 * A usage problem: one line on stderr, then the command's exit code for it.
 *
 * @example
 * ```ts
 * import { UsageError } from "./cli.ts";
 * new UsageError("unknown option --x").name; // "UsageError"
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Parses a command's arguments (positionals allowed, and -h/--help added to
 * `options`), turning `parseArgs`'s errors into one-line {@linkcode UsageError}s.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./cli.ts";
 * parseOptions(["-h", "FILE"], { value: { type: "string" } }).values.help; // true
 * try {
 *   parseOptions(["--nope"], {});
 * } catch (error) {
 *   (error as Error).message; // "unknown option --nope"
 * }
 * ```
 */
export function parseOptions<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { ...options, help: { type: "boolean", short: "h", default: false } as const },
    });
  } catch (error) {
    const message = errorText(error);
    const option = /'(-[^' ]+)/.exec(message)?.[1];
    const code = (error as { code?: string }).code;
    throw new UsageError(
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
        ? `unknown option ${option}`
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && /argument missing/.test(message)
        ? `option ${option} needs a value`
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
        ? `option ${option} takes no value`
        : message,
    );
  }
}

/**
 * The first line of an error's message (or of the thrown value as text).
 *
 * @example
 * ```ts
 * import { errorText } from "./cli.ts";
 * errorText(new Error("cannot read x\n    at y")); // "cannot read x"
 * ```
 */
export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/**
 * An OS error's reason without Deno's "(os error N): call 'path'" tail.
 *
 * @example
 * ```ts
 * import { osMessage } from "./cli.ts";
 * osMessage(new Error("No such file or directory (os error 2): readfile '/x'"));
 * // "No such file or directory"
 * ```
 */
export function osMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(
    / \(os error \d+\).*$/s,
    "",
  );
}
