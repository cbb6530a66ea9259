/**
 * Reading VDSM's hook directories: what is at a path, what is at the hook's
 * name in each hook point directory, and every entry of every directory under
 * the hooks root. The decisions on them are in `admin/install_plan.ts`.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { HOOK_POINTS } from "../../lib/hook.ts";
import {
  type Entry,
  type FoundEntry,
  HOOK_NAME,
  isProjectScript,
  joinPath,
  type PointState,
} from "../install_plan.ts";
import { pathFacts, readHead } from "./system.ts";

// What is at `path`, without following a final link. A path that does not exist (or has a
// file where a folder should be) is `missing`; other errors are thrown.
function entryAt(path: string): Entry {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return { kind: "missing" };
    }
    throw error;
  }
  if (info.isSymlink) {
    const target = resolve(dirname(path), Deno.readLinkSync(path));
    let resolved: string | undefined;
    try {
      resolved = Deno.realPathSync(path);
    } catch {
      resolved = undefined;
    }
    return { kind: "link", target, resolved };
  }
  if (info.isFile) return { kind: "file", executable: ((info.mode ?? 0) & 0o111) !== 0 };
  if (info.isDirectory) return { kind: "directory" };
  return { kind: "other" };
}

/**
 * What is at each hook point of {@linkcode HOOK_POINTS}: its directory, and the
 * entry named {@linkcode HOOK_NAME} in it.
 *
 * @example
 * ```ts ignore
 * import { pointStates } from "./hooks_dir.ts";
 * pointStates("/usr/libexec/vdsm/hooks")[0].point; // "before_device_create"
 * ```
 */
export function pointStates(hooksDir: string): PointState[] {
  return HOOK_POINTS.map((point) => ({
    point,
    directoryExists: pathFacts(joinPath(hooksDir, point))?.isDirectory ?? false,
    entry: entryAt(joinPath(hooksDir, point, HOOK_NAME)),
  }));
}

/**
 * Every entry (dot files included) of every directory under the hooks root,
 * sorted by path; none when the root is not a directory.
 *
 * @example
 * ```ts ignore
 * import { scanHookDirs } from "./hooks_dir.ts";
 * scanHookDirs("/usr/libexec/vdsm/hooks").filter((found) => found.projectScript);
 * ```
 */
export function scanHookDirs(hooksDir: string): FoundEntry[] {
  const found: FoundEntry[] = [];
  if (!pathFacts(hooksDir)?.isDirectory) return found;
  for (const dir of Deno.readDirSync(hooksDir)) {
    const dirPath = joinPath(hooksDir, dir.name);
    if (!pathFacts(dirPath)?.isDirectory) continue;
    for (const file of Deno.readDirSync(dirPath)) {
      const path = joinPath(dirPath, file.name);
      // A link is judged by what it leads to; only regular files are read (a FIFO would block).
      const target = statOrUndefined(path);
      const isFile = target?.isFile === true;
      found.push({
        point: dir.name,
        name: file.name,
        path,
        entry: entryAt(path),
        executable: isFile && ((target.mode ?? 0) & 0o111) !== 0,
        projectScript: isFile && isProjectScript(headOrEmpty(path)),
      });
    }
  }
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

function headOrEmpty(path: string): string {
  try {
    return readHead(path);
  } catch {
    return "";
  }
}
