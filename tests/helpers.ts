/**
 * Shared test fixtures: the corpus of real `<interface>` inputs, recorded virsh
 * outputs, and the checks every rewrite must pass.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Network, parseNetworkReport } from "../lib/network.ts";
import type { Target } from "../lib/property.ts";
import { NetworkNotFound } from "../lib/refusal.ts";
import { attribute, parseXml, type XmlElement } from "../lib/xml.ts";

/** Whether this is CI's run (`CI=true`), which installs what every test needs. */
export const IN_CI = Deno.env.get("CI") === "true";

/**
 * A test that needs something this machine may lack (root, a package, a user),
 * `missing` saying what (`undefined`: nothing is). Without it the test is
 * reported as ignored, the reason in its name; under `CI=true` it runs and
 * fails with that reason instead, since CI must run every test.
 */
export function needing(
  missing: string | undefined,
  test: Deno.TestDefinition,
): Deno.TestDefinition {
  if (missing === undefined) return test;
  if (!IN_CI) return { ...test, name: `${test.name} (skipped: ${missing})`, ignore: true };
  return {
    ...test,
    fn: () => {
      throw new Error(`this test cannot run here: ${missing}`);
    },
  };
}

/** The commands among `names` found neither on PATH nor in /usr/sbin, /sbin: "needs a, b". */
export function missingCommands(...names: string[]): string | undefined {
  const path = `${Deno.env.get("PATH") ?? ""}:/usr/sbin:/sbin`.split(":").filter(Boolean);
  const missing = names.filter((name) =>
    !path.some((dir) => {
      try {
        const { isFile, mode } = Deno.statSync(`${dir}/${name}`);
        return isFile && (mode! & 0o111) !== 0;
      } catch {
        return false;
      }
    })
  );
  return missing.length ? `needs ${missing.join(", ")}` : undefined;
}

/** Why the tests that run virsh cannot run here, or `undefined` when they can. */
export const VIRSH_MISSING = missingCommands("virsh")?.concat(" (package libvirt-clients)");

/** `withVirsh.test(name, fn)`: `Deno.test(name, fn)` for a test that runs virsh ({@linkcode needing}). */
export const withVirsh = {
  test(name: string, fn: () => Promise<void>): void {
    Deno.test(needing(VIRSH_MISSING, { name, fn }));
  },
};

/** The checkout's root directory. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to);
  Deno.chmodSync(to, 0o755);
  for (const entry of Deno.readDirSync(from)) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    if (entry.isDirectory) copyTree(source, target);
    else if (entry.isFile) {
      Deno.copyFileSync(source, target);
      Deno.chmodSync(target, (Deno.statSync(source).mode! & 0o111) ? 0o755 : 0o644);
    }
  }
}

/** Copies what a clone holds (minus tests and git) to `to`, with a clone's modes. */
export function copyCheckout(to: string): void {
  Deno.mkdirSync(to);
  Deno.chmodSync(to, 0o755);
  for (const name of ["main.ts", "install.ts", "admin.ts", "deno.json", "deno.lock"]) {
    try {
      Deno.copyFileSync(`${ROOT}${name}`, `${to}/${name}`);
      Deno.chmodSync(`${to}/${name}`, name === "main.ts" ? 0o755 : 0o644);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || name === "main.ts") throw error;
    }
  }
  for (const name of ["lib", "host", "admin", "samples"]) {
    copyTree(`${ROOT}${name}`, `${to}/${name}`);
  }
}

let readable: string | undefined;

/**
 * A copy of the checkout that any user can read, for running the hook as an
 * unprivileged user: the checkout itself may sit below a folder only root can
 * enter (CI clones wherever it likes). Made once per test process, with a
 * trailing slash, like {@linkcode ROOT}.
 */
export function readableCheckout(): string {
  if (readable) return readable;
  const base = Deno.makeTempDirSync({ prefix: "network-nat-checkout-" });
  Deno.chmodSync(base, 0o755);
  copyCheckout(`${base}/checkout`);
  globalThis.addEventListener("unload", () => Deno.removeSync(base, { recursive: true }));
  return readable = `${base}/checkout/`;
}

/**
 * The test-driver node file with the sample networks (`ovs-net`, `br-net`,
 * `default`, ...), readable by any user, so that virsh run by the hook as an
 * unprivileged user can read it.
 */
export const TEST_NETWORKS_URI = `test://${readableCheckout()}samples/networks.xml`;

/** Reads a corpus file (see tests/fixtures/corpus/INDEX.md). */
export function corpus(name: string): string {
  return Deno.readTextFileSync(`${ROOT}tests/fixtures/corpus/${name}`);
}

/**
 * Reads a live-form capture from the real-libvirtd sandbox: a vNIC as VDSM hands it to
 * `before_device_migrate_destination`, or a running domain (see tests/fixtures/live/README.md).
 */
export function live(name: string): string {
  return Deno.readTextFileSync(`${ROOT}tests/fixtures/live/${name}`);
}

/** A network as recorded from `virsh net-info NAME; net-dumpxml NAME`. */
export function recordedNetwork(name: string): Network {
  return parseNetworkReport(Deno.readTextFileSync(`${ROOT}tests/fixtures/virsh/${name}.txt`));
}

/** Looks networks up among the recorded ones; an unknown name fails as virsh reports it. */
export function recordedLookup(name: string): Promise<Network> {
  try {
    return Promise.resolve(recordedNetwork(name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return Promise.reject(
      new NetworkNotFound(name, `libvirt network '${name}' does not exist on this host`),
    );
  }
}

/**
 * Asserts the invariants of a rewrite (tests/fixtures/corpus/INDEX.md): the
 * interface is `type="network"` with one `<source>` naming the target, every
 * byte outside the interface start tag and the `<source>` element is as it
 * was (apart from `added`, inserted right after the source), and the XML
 * declaration is kept.
 */
export function assertRewritten(input: string, output: string, target: Target, added = ""): void {
  const before = parseXml(input).root;
  const after = parseXml(output).root;
  assert.equal(after.name, "interface");
  assert.equal(attribute(after, "type"), "network");
  const sources = after.children.filter((child) => child.name === "source");
  assert.equal(sources.length, 1, "exactly one <source>");
  const [source] = sources;
  assert.equal(attribute(source, "network"), target.network);
  assert.equal(attribute(source, "portgroup"), target.portgroup);
  assert.equal(attribute(source, "bridge"), undefined);
  assert.equal(attribute(source, "portid"), undefined);
  const oldSource = sourceOf(before);
  assert.equal(
    output.slice(0, after.start),
    input.slice(0, before.start),
    "text before <interface>",
  );
  assert.equal(
    output.slice(after.startTagEnd, source.start),
    input.slice(before.startTagEnd, oldSource.start),
    "text between the <interface> start tag and <source>",
  );
  assert.equal(
    output.slice(source.end),
    added + input.slice(oldSource.end),
    "text after <source>",
  );
}

function sourceOf(root: XmlElement): XmlElement {
  return root.children.find((child) => child.name === "source")!;
}
