/**
 * The help texts of `admin.ts` and its commands (`deno task preview --help`, ...).
 *
 * @module
 */

import { GET_COMMAND } from "./engine_config.ts";
import { HOOK_POINTS } from "../lib/hook.ts";
import { DEFAULT_HOOKS_DIR, SYSTEMD_PATH, VDSM_USER } from "./install_plan.ts";
import { PROPERTY, PROPERTY_REGEX } from "../lib/property.ts";

/** What `admin.ts --help` prints. */
export const ADMIN_HELP =
  `Usage: deno task <command> [options]   (or: deno run <permissions> admin.ts <command> ...)

Tools for the admin of the network-nat VDSM hook.

Commands:
  preview        show what the hook would do to a vNIC's device XML
  doctor         check, read-only, that this host is ready for the hook
  engine-config  print the engine-config commands that declare ${PROPERTY}
  fleet          compare the doctor --json reports of a cluster's hosts

Run 'deno task <command> --help' for a command's options and exit codes.
`;

/** What `deno task preview --help` prints. */
export const PREVIEW_HELP = `Usage: deno task preview FILE|- --value NETWORK[:PORTGROUP] [options]

Shows what the network-nat hook would write for the vNIC device XML in FILE
(or on stdin with -), as VDSM would hand it over in _hook_domxml, when the vNIC
profile sets ${PROPERTY}=NETWORK[:PORTGROUP]. It runs the hook's own code, including
its read-only libvirt lookup (LIBVIRT_DEFAULT_URI, else qemu:///system). FILE is
never changed.

stdout gets a unified diff from FILE to what the hook would write (coloured on a
terminal unless NO_COLOR is set; empty when the hook would leave the file as it
is). stderr gets the line the hook would log, as 'network-nat: ...'.

Options:
  --value NETWORK[:PORTGROUP]  the ${PROPERTY} value (required)
  --point POINT                the hook point: ${
  HOOK_POINTS.join(",\n                               ")
}
                               (default before_device_create)
  --provider-type TYPE         as VDSM sets provider_type for vNICs on external-provider
                               networks (e.g. OVN); the hook refuses those
  --no-libvirt                 skip the libvirt lookup: the network, its portgroup and
                               whether it is Open vSwitch are then not checked
  --output FILE                write the whole XML the hook would write to FILE
                               (- for stdout) instead of printing the diff
  -h, --help                   show this help

Exit codes:
  0  the hook would rewrite the vNIC, or leave it as it is
  1  usage or I/O error (one line on stderr)
  2  the hook would refuse: stderr has the exact line it would print, and VDSM
     would fail the VM start, hot-plug or update

Example:
  deno task preview /tmp/nic.xml --value ovs-net:vlan-20
`;

/** What `deno task doctor --help` prints. */
export const DOCTOR_HELP = `Usage: deno task doctor [options]

Checks, read-only, whether this host is ready for the network-nat hook, and
reports each check as ok, warn or FAIL with the fix:
  - deno on vdsmd's PATH, and its version;
  - the ${HOOK_POINTS.length} hook links in the hooks root, pointing to this checkout; no other
    executable copy of the hook beside them (VDSM would run it too);
  - main.ts executable with its shell preamble; user ${VDSM_USER} can reach and read it;
  - the self-test: each linked hook run once as VDSM would (as user ${VDSM_USER} when
    run as root, cwd /, a sample vNIC in a temporary file in /tmp, with and without
    ${PROPERTY}, on the test-driver node samples/selftest-node.xml), as the
    installer does; only its own temporary files are written, and removed;
  - read-only libvirt access as user ${VDSM_USER} (when run as root), and every libvirt
    network with its kind, active and autostart state, portgroups and VLANs;
  - every running VM (its live XML, one libvirt call each): each vNIC whose VDSM
    record holds ${PROPERTY} but that runs elsewhere (still on its oVirt bridge,
    another network or portgroup, or another VLAN than its portgroup gives now);
  - with --value, one ${PROPERTY} target, checked the way the hook checks it.

Options:
  --value NETWORK[:PORTGROUP]  also check this ${PROPERTY} value
  --hooks-dir DIR              VDSM's hooks root (default ${DEFAULT_HOOKS_DIR})
  --path PATH                  the PATH vdsmd runs hooks with
                               (default systemd's ${SYSTEMD_PATH})
  --user USER                  the user VDSM runs hooks as (default ${VDSM_USER})
  --json                       print the findings, networks, running vNICs and hook
                               state as JSON (the report 'deno task fleet' compares
                               across hosts)
  --host-name NAME             the host's name in the JSON report (default: this
                               host's name)
  --no-self-test               do not run the installed hooks
  -h, --help                   show this help

Exit codes:
  0  no check failed (warnings allowed)
  1  at least one check failed
  2  usage error (one line on stderr)

Example:
  deno task doctor --value ovs-net:vlan-20
`;

/** What `deno task engine-config --help` prints. */
export const ENGINE_CONFIG_HELP = `Usage: deno task engine-config [FILE|-]

Reads the output of '${GET_COMMAND}' (one line per
compatibility version) from FILE, or from stdin when FILE is - or absent, and
prints the commands to run on the engine: one 'engine-config -s' per version
whose value lacks ${PROPERTY} or has another regex for it, keeping every
other property, then the engine restart. Comment lines (#) say what changes.
Anything it does not understand is refused, rather than dropped.

The regex set for ${PROPERTY} is ${PROPERTY_REGEX}

Options:
  -h, --help  show this help

Exit codes:
  0  printed the commands, or that nothing needs to change
  1  refused the input (one line on stderr: where, and what was expected)
  2  usage or I/O error (one line on stderr)

Example:
  ${GET_COMMAND} > cdp.txt   (on the engine)
  deno task engine-config cdp.txt
`;

/** What `deno task fleet --help` prints. */
export const FLEET_HELP = `Usage: deno task fleet [--json] REPORT.json...

Compares the 'deno task doctor --json' reports of several hosts (one file per
host, each naming its host) and prints one table: each libvirt network on each
host (missing, inactive, not autostarted, another kind, a portgroup missing or
with another VLAN or trunk), each host's hook state (links, Deno, self-test,
doctor failures), and the ${PROPERTY} values that would therefore fail a VM start or
refuse a migration on some hosts. A VM can run on any host of its cluster, so
every host needs the same networks.

Options:
  --json      print the comparison as JSON
  -h, --help  show this help

Exit codes:
  0  the hosts agree and the hook is ready on each
  1  the hosts differ, or the hook is not ready on some host
  2  usage error, or a report that cannot be read (one line on stderr naming
     the file: not JSON, not a doctor report, another report format)

Example:
  deno task doctor --json > hv1.json   (on each host; then, on one machine:)
  deno task fleet hv1.json hv2.json hv3.json
`;
