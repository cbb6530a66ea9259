/**
 * Reading the running VMs of a host, read-only: their live domain XML, as the
 * doctor compares it with where each vNIC's profile says it should be.
 *
 * @module
 */

import { LibvirtUnavailable } from "../../lib/refusal.ts";
import { runningDomains, systemSocket } from "../../host/libvirt.ts";
import { runVirsh, virshError } from "../../host/virsh.ts";

/**
 * Returns the live XML (`virsh dumpxml`, no flags: what VDSM sends a migration
 * destination) of every running domain at `uri`. The system daemon is asked over
 * its read-only socket in one connection (the listing, then every domain's XML in
 * one pipelined round; the list of VMs is the same whoever asks). Elsewhere, or
 * when that fails, two virsh runs however many VMs there are: `list --uuid`, then one `dumpxml` per domain in a single
 * run, each followed by a random marker that splits the output. A domain that
 * stops between the two runs is left out. `runAs` prefixes virsh (e.g. a
 * `setpriv` command line, to ask as the hook's user). Throws
 * {@linkcode LibvirtUnavailable} when libvirt cannot be asked.
 *
 * @example
 * ```ts ignore
 * import { liveDomainXmls } from "./domains.ts";
 * const xmls = await liveDomainXmls("qemu:///system");
 * ```
 */
export async function liveDomainXmls(uri: string, runAs: string[] = []): Promise<string[]> {
  if (systemSocket(uri) !== undefined) {
    try {
      return (await runningDomains()).map((domain) => domain.xml);
    } catch (error) {
      // SASL on the socket, or a daemon that went away: virsh says what it makes of it.
      if (!(error instanceof LibvirtUnavailable)) throw error;
    }
  }
  const list = await runVirsh("list --uuid", uri, runAs);
  if (!list.success) {
    throw new LibvirtUnavailable(`cannot list the running VMs: ${virshError(list.stderr)}`);
  }
  const uuids = list.stdout.split("\n").map((line) => line.trim()).filter(Boolean);
  // UUIDs need no quoting in virsh's command line; anything else from virsh would be an error.
  const bad = uuids.find((uuid) => !/^[0-9a-f-]{36}$/i.test(uuid));
  if (bad !== undefined) {
    throw new LibvirtUnavailable(`virsh list --uuid printed ${JSON.stringify(bad)}, not a UUID`);
  }
  if (uuids.length === 0) return [];
  // A marker no domain XML can hold: metadata may hold any text, even "</domain>".
  const marker = `network-nat-end-of-domain-${crypto.randomUUID()}`;
  const dump = await runVirsh(
    uuids.map((uuid) => `dumpxml --domain ${uuid}; echo ${marker}`).join("; "),
    uri,
    runAs,
  );
  const chunks = dump.stdout.split(new RegExp(`^${marker}$`, "m")).slice(0, uuids.length);
  if (chunks.length !== uuids.length) {
    throw new LibvirtUnavailable(
      `virsh dumpxml answered for ${chunks.length} of ${uuids.length} running VMs: ` +
        virshError(dump.stderr),
    );
  }
  const xmls = chunks.map((chunk) => chunk.trim()).filter(Boolean);
  // Every domain stopping between the two runs is less likely than a connection gone bad.
  if (xmls.length === 0) {
    throw new LibvirtUnavailable(`cannot read the running VMs: ${virshError(dump.stderr)}`);
  }
  return xmls;
}
