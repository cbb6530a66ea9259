/**
 * What the installer and the doctor read about the host system, read-only:
 * permission facts of paths, the first bytes of a file, executables on a PATH,
 * user accounts (through NSS, so directory users count) and the paths the
 * hook's user must reach. The verdicts on them are in `admin/access.ts` and
 * `admin/install_plan.ts`.
 *
 * @module
 */

import { type AccessNeed, type Account, parentsOf, type PathFacts } from "../access.ts";
import { joinPath } from "../install_plan.ts";

/**
 * The command prefix that runs a command as `account`, with its own groups:
 * how the installer and the doctor act as the hook's user.
 *
 * @example
 * ```ts
 * import { asUser } from "./system.ts";
 * asUser({ uid: 36, gid: 36 }); // ["setpriv", "--reuid=36", "--regid=36", "--init-groups", "--"]
 * ```
 */
export function asUser(account: Pick<Account, "uid" | "gid">): string[] {
  return ["setpriv", `--reuid=${account.uid}`, `--regid=${account.gid}`, "--init-groups", "--"];
}

/**
 * What `stat` says about `path` (following links) as far as permissions go, or
 * `undefined` when it cannot be stat'ed.
 *
 * @example
 * ```ts ignore
 * import { pathFacts } from "./system.ts";
 * pathFacts("/usr/bin")?.isDirectory; // true
 * ```
 */
export function pathFacts(path: string): PathFacts | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return undefined;
  }
  return {
    path,
    isDirectory: info.isDirectory,
    mode: (info.mode ?? 0) & 0o7777,
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
  };
}

/**
 * The first `bytes` bytes of the file at `path`, decoded as UTF-8; throws when
 * it cannot be read.
 *
 * @example
 * ```ts ignore
 * import { readHead } from "./system.ts";
 * readHead("/opt/network-nat/main.ts").startsWith("#!/bin/sh\n"); // true
 * ```
 */
export function readHead(path: string, bytes = 1024): string {
  const file = Deno.openSync(path, { read: true });
  try {
    const buffer = new Uint8Array(bytes);
    const read = file.readSync(buffer) ?? 0;
    return new TextDecoder().decode(buffer.subarray(0, read));
  } finally {
    file.close();
  }
}

/**
 * The first executable file `name` in the absolute folders of `path` (a PATH
 * value), or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { findOnPath } from "./system.ts";
 * findOnPath("virsh", "/usr/sbin:/usr/bin"); // "/usr/bin/virsh"
 * ```
 */
export function findOnPath(name: string, path: string): string | undefined {
  for (const dir of path.split(":")) {
    if (!dir.startsWith("/")) continue;
    const candidate = joinPath(dir, name);
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(candidate);
    } catch {
      continue;
    }
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return candidate;
  }
  return undefined;
}

async function run(command: string, args: string[]): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

/**
 * Looks a user up by name or uid with `getent passwd` and `id -G` (so users of
 * LDAP or SSSD count too), or returns `undefined` when there is no such user.
 * Needs permission to run `getent` and `id`.
 *
 * @example
 * ```ts ignore
 * import { lookupAccount } from "./system.ts";
 * (await lookupAccount("0"))?.name; // "root"
 * ```
 */
export async function lookupAccount(user: string): Promise<Account | undefined> {
  const passwd = await run("getent", ["passwd", user]);
  if (passwd.code !== 0) return undefined;
  const [name, , uid, gid, , home] = passwd.stdout.trim().split("\n")[0].split(":");
  const ids = await run("id", ["-G", name]);
  const groups = ids.code === 0 ? ids.stdout.trim().split(/\s+/).map(Number) : [Number(gid)];
  return { name, uid: Number(uid), gid: Number(gid), groups, home };
}

/**
 * `path` needing `need` (letters of `rwx`), or nothing when `path` does not exist.
 *
 * @example
 * ```ts ignore
 * import { accessNeed } from "./system.ts";
 * accessNeed("/opt/network-nat/main.ts", "rx");
 * ```
 */
export function accessNeed(path: string, need: string): AccessNeed[] {
  const facts = pathFacts(path);
  return facts ? [{ facts, need }] : [];
}

/**
 * The folders from `/` down to `path` (each needing `x`), then `path` itself
 * needing `last`; paths that do not exist are left out.
 *
 * @example
 * ```ts ignore
 * import { chainNeeds } from "./system.ts";
 * chainNeeds("/usr/bin/deno", "x").map((n) => n.facts.path); // ["/", "/usr", "/usr/bin", "/usr/bin/deno"]
 * ```
 */
export function chainNeeds(path: string, last: string): AccessNeed[] {
  return [
    ...parentsOf(path).flatMap((parent) => accessNeed(parent, "x")),
    ...accessNeed(path, last),
  ];
}

/** The folder `dir` (needing `x`) and every `.ts` file under it (needing `r`). */
function treeNeeds(dir: string): AccessNeed[] {
  const needs = accessNeed(dir, "x");
  if (needs.length === 0) return needs;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return needs; // reported through the folder's own need
  }
  for (const entry of entries) {
    const path = joinPath(dir, entry.name);
    const child = pathFacts(path);
    if (!child) continue;
    if (child.isDirectory) needs.push(...treeNeeds(path));
    else if (entry.name.endsWith(".ts")) needs.push({ facts: child, need: "r" });
  }
  return needs;
}

/**
 * What the hook's user must reach to run the hook: every folder down to the
 * checkout, `main.ts` (run by sh, then read by Deno) and the modules it imports.
 *
 * @example
 * ```ts ignore
 * import { hookAccessNeeds } from "./system.ts";
 * const needs = hookAccessNeeds("/opt/network-nat", "/opt/network-nat/main.ts");
 * ```
 */
export function hookAccessNeeds(checkoutDir: string, mainPath: string): AccessNeed[] {
  return [
    ...chainNeeds(checkoutDir, "x"),
    ...accessNeed(mainPath, "rx"),
    ...treeNeeds(joinPath(checkoutDir, "lib")),
    ...treeNeeds(joinPath(checkoutDir, "host")),
  ];
}
