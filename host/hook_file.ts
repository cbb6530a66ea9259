/**
 * Reading and replacing the device XML file that VDSM names in `_hook_domxml`.
 *
 * @module
 */

import { clip, Refusal } from "../lib/refusal.ts";

/**
 * The largest device XML file the hook reads: VDSM's are a few KB; anything
 * this big is not a device XML, and reading it would only cost memory and time.
 *
 * @example
 * ```ts
 * import { MAX_HOOK_FILE_BYTES } from "./hook_file.ts";
 * MAX_HOOK_FILE_BYTES; // 1048576
 * ```
 */
export const MAX_HOOK_FILE_BYTES = 1024 * 1024;

/**
 * Reads the hook file as strict UTF-8, keeping a byte order mark so that the
 * text can be written back byte for byte. Throws {@linkcode Refusal}, without
 * reading it, for what VDSM never writes: anything but a regular file (a FIFO
 * would block the hook, and VDSM, forever), or a file over
 * {@linkcode MAX_HOOK_FILE_BYTES}; and for a file that cannot be read.
 *
 * @example
 * ```ts ignore
 * import { readHookFile } from "./hook_file.ts";
 * const xml = readHookFile(Deno.env.get("_hook_domxml")!);
 * ```
 */
export function readHookFile(path: string): string {
  const what = `the device XML file ${clip(path, 200)} (_hook_domxml)`;
  const tooBig = (size: number) =>
    new Refusal(
      `${what} has ${size} bytes or more, over the ${MAX_HOOK_FILE_BYTES} a device XML may ` +
        "have (VDSM writes a few KB); it is not a device XML",
    );
  // lstat first: opening a FIFO blocks until a writer comes, and Deno has no O_NONBLOCK.
  const info = fileOperation(() => Deno.lstatSync(path), what, "read");
  if (!info.isFile) {
    throw new Refusal(`${what} is ${fileKind(info)}, not a regular file as VDSM writes`);
  }
  if (info.size > MAX_HOOK_FILE_BYTES) throw tooBig(info.size);
  const file = fileOperation(() => Deno.openSync(path, { read: true }), what, "read");
  try {
    // The file opened must be the file checked (same inode), and it may have grown since.
    const opened = file.statSync();
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      throw new Refusal(`${what} was replaced while the hook read it; nothing was changed`);
    }
    const bytes = new Uint8Array(MAX_HOOK_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const read = fileOperation(() => file.readSync(bytes.subarray(length)), what, "read");
      if (read === null) break;
      length += read;
      if (length > MAX_HOOK_FILE_BYTES) throw tooBig(length);
    }
    return decodeHookFile(bytes.subarray(0, length), path);
  } finally {
    file.close();
  }
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
    throw new Refusal(`the device XML in ${clip(name, 200)} is not valid UTF-8`);
  }
}

/**
 * Replaces the hook file with `text` atomically: VDSM re-reads the file by name,
 * so it sees either the old content or the whole new one, never a truncated
 * file. The new file is created beside it under a new, unpredictable dot-name
 * (`.NAME.network-nat-RANDOM`), with the original's mode and, when this user may
 * set them, its owner and group; then renamed over it. No fsync: the file only
 * lives as long as the VDSM call, which a host crash ends anyway.
 *
 * Throws {@linkcode Refusal} when the file cannot be replaced; the original is
 * then as it was and the new file is gone. Only a kill between the creation and
 * the rename leaves the new file behind: a 0600 dot-file beside VDSM's, which
 * VDSM never reads and the temp-directory clean-up removes.
 *
 * @example
 * ```ts ignore
 * import { replaceHookFile } from "./hook_file.ts";
 * replaceHookFile(Deno.env.get("_hook_domxml")!, "<interface type='network'>...</interface>");
 * ```
 */
export function replaceHookFile(path: string, text: string): void {
  const slash = path.lastIndexOf("/");
  const directory = path.slice(0, slash + 1);
  const random = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const temp = `${directory}.${path.slice(slash + 1)}.network-nat-${random}`;
  const what = `the device XML file ${clip(path, 200)} (_hook_domxml)`;
  const original = fileOperation(() => Deno.statSync(path), what, "replace");
  // createNew: a name that exists already is never used, so never removed either.
  const file = fileOperation(
    () => Deno.openSync(temp, { write: true, createNew: true, mode: 0o600 }),
    what,
    "replace",
  );
  try {
    const bytes = new TextEncoder().encode(text);
    for (let written = 0; written < bytes.length;) {
      written += fileOperation(() => file.writeSync(bytes.subarray(written)), what, "replace");
    }
    const created = file.statSync();
    if (created.uid !== original.uid || created.gid !== original.gid) {
      try {
        Deno.chownSync(temp, original.uid, original.gid);
      } catch {
        // Only root may give a file away; the file stays this user's, as VDSM's own is.
      }
    }
    fileOperation(() => Deno.chmodSync(temp, original.mode! & 0o777), what, "replace");
    file.close();
    fileOperation(() => Deno.renameSync(temp, path), what, "replace");
  } catch (error) {
    try {
      file.close();
    } catch {
      // closed already
    }
    try {
      Deno.removeSync(temp);
    } catch {
      // renamed already, or removed by someone else
    }
    throw error;
  }
}

// Runs a file-system call, turning the faults a host can have into a refusal that names them.
function fileOperation<T>(call: () => T, what: string, action: "read" | "replace"): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof Refusal) throw error;
    const unchanged = action === "replace" ? "; nothing was changed" : "";
    const fault = error instanceof Deno.errors.NotFound
      ? "does not exist (VDSM removes it when the hook point is done)"
      : error instanceof Deno.errors.PermissionDenied
      ? (action === "read"
        ? "cannot be read by the user the hook runs as"
        : "cannot be replaced by the user the hook runs as: it writes a new file beside it, " +
          "so the directory must be writable")
      : error instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : error instanceof Deno.errors.NotCapable
      ? `may not be ${action === "read" ? "read" : "written"} by the hook (start it with ` +
        `--allow-${action === "read" ? "read" : "write"})`
      : /\(os error 28\)/.test(String(error))
      ? "cannot be replaced: the file system is full"
      : /\(os error 30\)/.test(String(error))
      ? "cannot be replaced: the file system is read-only"
      : `cannot be ${action === "read" ? "read" : "replaced"}: ${String(error)}`;
    // The system's error stays the cause: an admin tool reports it as its own I/O error.
    throw Object.assign(new Refusal(`${what} ${fault}${unchanged}`), { cause: error });
  }
}

function fileKind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symbolic link";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "of another kind";
}
