/**
 * Reading and replacing the device XML file that VDSM names in `_hook_domxml`.
 *
 * @module
 */

import { Refusal } from "../lib/refusal.ts";

/**
 * Reads the hook file as strict UTF-8, keeping a byte order mark so that the
 * text can be written back byte for byte.
 *
 * @example
 * ```ts ignore
 * import { readHookFile } from "./hook_file.ts";
 * const xml = readHookFile(Deno.env.get("_hook_domxml")!);
 * ```
 */
export function readHookFile(path: string): string {
  return decodeHookFile(Deno.readFileSync(path), path);
}

/**
 * Decodes device XML as strict UTF-8, keeping a byte order mark; `name` says
 * where the bytes came from in the refusal for anything that is not UTF-8.
 *
 * @example
 * ```ts
 * import { decodeHookFile } from "./hook_file.ts";
 * decodeHookFile(new TextEncoder().encode("<interface/>"), "stdin"); // "<interface/>"
 * ```
 */
export function decodeHookFile(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Refusal(`the device XML in ${name} is not valid UTF-8`);
  }
}

/**
 * Replaces the hook file with `text` atomically: VDSM re-reads the file by name,
 * so it sees either the old content or the whole new one, never a truncated
 * file. The new file is written beside it with mode 0600, as VDSM's own temp
 * file has. No fsync: the file only lives as long as the VDSM call, which a
 * host crash ends anyway.
 *
 * @example
 * ```ts ignore
 * import { replaceHookFile } from "./hook_file.ts";
 * replaceHookFile(Deno.env.get("_hook_domxml")!, "<interface type='network'>...</interface>");
 * ```
 */
export function replaceHookFile(path: string, text: string): void {
  // VDSM names each hook file uniquely, so this name is free unless a run was killed mid-write.
  const temp = `${path}.network-nat-new`;
  try {
    Deno.writeTextFileSync(temp, text, { createNew: true, mode: 0o600 });
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // nothing was created: the original error says why
    }
    throw error;
  }
}
