/**
 * Whether a user may reach and use a path, from the mode bits along the way:
 * what the installer and the doctor check for the hook's user, with the fix for
 * each problem. No I/O: the facts come from `admin/host/system.ts`.
 *
 * @module
 */

/** The identity a hook runs as. */
export interface Account {
  name: string;
  uid: number;
  /** The primary group. */
  gid: number;
  /** All groups, primary included. */
  groups: readonly number[];
  home: string;
}

/** What `stat` says about one path, as far as permissions go. */
export interface PathFacts {
  path: string;
  isDirectory: boolean;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Returns the letters of `need` (`r`, `w`, `x`) that the mode bits deny to
 * `account`, as the kernel checks them (owner, else group, else others; root
 * may read and write anything and execute any file with an `x` bit). ACLs and
 * SELinux are not considered.
 *
 * @example
 * ```ts
 * import { deniedAccess } from "./access.ts";
 * const vdsm = { name: "vdsm", uid: 36, gid: 36, groups: [36], home: "/var/lib/vdsm" };
 * deniedAccess({ path: "/root", isDirectory: true, mode: 0o700, uid: 0, gid: 0 }, vdsm, "x"); // "x"
 * ```
 */
export function deniedAccess(facts: PathFacts, account: Account, need: string): string {
  const letters = [...need];
  if (account.uid === 0) {
    return letters.filter((l) => l === "x" && !facts.isDirectory && (facts.mode & 0o111) === 0)
      .join("");
  }
  const shift = facts.uid === account.uid ? 6 : account.groups.includes(facts.gid) ? 3 : 0;
  const bits = (facts.mode >> shift) & 0o7;
  const bit = { r: 4, w: 2, x: 1 } as Record<string, number>;
  return letters.filter((l) => (bits & bit[l]) === 0).join("");
}

/**
 * Lists the folders from `/` down to `path`'s parent, the folders a process
 * must be able to search (`x`) to reach `path`.
 *
 * @example
 * ```ts
 * import { parentsOf } from "./access.ts";
 * parentsOf("/opt/nn/main.ts"); // ["/", "/opt", "/opt/nn"]
 * ```
 */
export function parentsOf(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  const parents = ["/"];
  for (let i = 1; i < parts.length; i++) parents.push(`/${parts.slice(0, i).join("/")}`);
  return parents;
}

/** A path and the access a user needs to it. */
export interface AccessNeed {
  facts: PathFacts;
  need: string;
}

/**
 * Returns one message per path `account` cannot use as needed, with the fix.
 * `what` names what the paths are for, e.g. "the checkout".
 *
 * @example
 * ```ts
 * import { accessProblems } from "./access.ts";
 * const vdsm = { name: "vdsm", uid: 36, gid: 36, groups: [36], home: "/var/lib/vdsm" };
 * accessProblems("the checkout", [
 *   { facts: { path: "/root", isDirectory: true, mode: 0o700, uid: 0, gid: 0 }, need: "x" },
 * ], vdsm);
 * // ["user vdsm cannot search (x) /root (directory, mode 0700, owner 0:0), on the way to the checkout: ..."]
 * ```
 */
export function accessProblems(
  what: string,
  needs: readonly AccessNeed[],
  account: Account,
): string[] {
  const problems: string[] = [];
  for (const { facts, need } of needs) {
    const denied = deniedAccess(facts, account, need);
    if (!denied) continue;
    const verbs = [...denied].map((l) =>
      l === "r"
        ? "read (r)"
        : l === "w"
        ? "write (w)"
        : facts.isDirectory
        ? "search (x)"
        : "execute (x)"
    ).join(" or ");
    problems.push(
      `user ${account.name} cannot ${verbs} ${facts.path} ` +
        `(${facts.isDirectory ? "directory" : "file"}, mode ${octalMode(facts.mode)}, owner ` +
        `${facts.uid}:${facts.gid}), on the way to ${what}: ` +
        (isInside(facts.path, "/root") || isInside(facts.path, "/home")
          ? "move the checkout to e.g. /opt/network-nat and install from there"
          : `run chmod ${facts.isDirectory ? "a+rx" : need.includes("x") ? "a+rx" : "a+r"} ` +
            `${facts.path}` + (facts.isDirectory ? " (or chmod -R a+rX on the checkout)" : "")),
    );
  }
  return problems;
}

/**
 * Tells whether `path` is `dir` or inside it (both absolute and normalized).
 *
 * @example
 * ```ts
 * import { isInside } from "./access.ts";
 * isInside("/opt/network-nat/main.ts", "/opt/network-nat"); // true
 * isInside("/opt/network-nat2/main.ts", "/opt/network-nat"); // false
 * ```
 */
export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/**
 * Renders permission bits the way `chmod` takes them, e.g. `0755`.
 *
 * @example
 * ```ts
 * import { octalMode } from "./access.ts";
 * octalMode(0o100644); // "0644"
 * ```
 */
export function octalMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}
