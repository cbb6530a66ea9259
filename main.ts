#!/bin/sh
//bin/true; [ -n "${extnet_pg+x}" ] || exit 0; : network-nat \
//; set -f; for w in $(export -p); do n=${w%%=*}; case $n in *[!A-Za-z0-9_]*|DENO_DIR) ;; DENO_*|RUST_*|OTEL_*|FORCE_COLOR) unset "$n";; esac; done; set +f; : \
//; PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin}; export PATH; : \
//; command -v deno >/dev/null || { echo "network-nat: deno is not on PATH ($PATH); install Deno 2 in /usr/local/bin or /usr/bin" >&2; exit 2; }; S=/run/libvirt/virtqemud-sock-ro L=/run/libvirt/libvirt-sock-ro D=.; case $_hook_domxml in */*) D=${_hook_domxml%/*} D=${D:-/};; esac; : \
//; set -- --allow-read --allow-write --allow-run=virsh,kill; case ${LIBVIRT_DEFAULT_URI:-qemu:///system} in qemu:///system) { [ -e $S ] || [ -e $L ]; } && M=$(readlink -f -- "$0" 2>/dev/null) && case $0$M$D in *,*) ;; *) M=${M%/*}; set -- "--allow-read=$0,$M/lib,$M/host,$D,$S,$L" "--allow-write=$D,$S,$L" "--allow-net=unix:$S,unix:$L";; esac;; esac; NO_COLOR=1 exec deno run -q --ext=ts --no-config --no-prompt --no-remote --allow-env=extnet_pg,_hook_domxml,provider_type,LIBVIRT_DEFAULT_URI "$@" "$0"

/**
 * The network-nat VDSM hook.
 *
 * VDSM runs it, through a link in each hook point directory, for every vNIC at
 * VM start, NIC hot-plug, live NIC update and incoming migration. The lines
 * above are a POSIX shell preamble (TypeScript reads them as comments; the shell
 * joins them with `\` into `: //` no-ops, so no process is started): a vNIC
 * without `extnet_pg` costs no Deno start-up. Otherwise the preamble drops the
 * inherited variables that would change how Deno runs the hook (`DENO_*` but
 * `DENO_DIR`, which only says where the cache is; `RUST_*`, `OTEL_*`,
 * `FORCE_COLOR`: VDSM passes its whole environment), sets the systemd default
 * `PATH` when there is none, and starts Deno with only the grants this run needs:
 * for the local system daemon, read and write on the hook file's folder and on
 * libvirt's read-only sockets, and read on the modules, but no process at all;
 * for any other libvirt URI, virsh (see docs/admin.md, "Permissions"). Deno then
 * runs the link itself, whose path names the hook point; the modules are loaded
 * from the link's real folder, since Deno resolves imports against the link's own.
 *
 * Exit codes are VDSM's: 0 done or nothing to do; 2 refused, with one line on
 * stderr, the file untouched, and later hooks skipped.
 *
 * @module
 */

// Modules are loaded here rather than imported statically, so that even a broken install exits 2
// with one line; and from this file's real folder, as Deno resolves imports against the link's.
let realUrl: string | undefined;
const load = (path: string) => {
  realUrl ??= `file://${
    Deno.realPathSync(import.meta.filename!).split("/").map(encodeURIComponent).join("/")
  }`;
  return import(new URL(path, realUrl).href);
};

try {
  // Run as `deno run ... main.ts` rather than through the preamble: nothing to load either.
  const property = Deno.env.get("extnet_pg");
  if (property === undefined) Deno.exit(0);
  const { runHook, hookPointOf }: typeof import("./lib/hook.ts") = await load("./lib/hook.ts");
  const { readHookFile, replaceHookFile }: typeof import("./host/hook_file.ts") = await load(
    "./host/hook_file.ts",
  );
  const { libvirtUri, lookupNetwork }: typeof import("./host/libvirt.ts") = await load(
    "./host/libvirt.ts",
  );
  const { HOOK_PREFIX, Refusal }: typeof import("./lib/refusal.ts") = await load(
    "./lib/refusal.ts",
  );

  const path = Deno.env.get("_hook_domxml");
  if (!path) {
    throw new Refusal(
      "_hook_domxml is not set: VDSM runs this file as a hook; to try it by hand, see 'deno task preview --help'",
    );
  }
  const uri = libvirtUri();
  const result = await runHook({
    point: hookPointOf(import.meta.filename!),
    property,
    providerType: Deno.env.get("provider_type"),
    xml: readHookFile(path),
    lookupNetwork: (name, cancel) => lookupNetwork(name, uri, cancel),
  });
  if (result.xml !== undefined) replaceHookFile(path, result.xml);
  if (result.message) writeStderr(`${HOOK_PREFIX} ${result.message}`);
  Deno.exit(0);
} catch (error) {
  // If lib/refusal.ts itself cannot be loaded, say so in the same one-line form.
  const line = await Promise.resolve("./lib/refusal.ts").then(load).then(
    ({ hookErrorLine }: typeof import("./lib/refusal.ts")) => hookErrorLine(error),
    () => `network-nat: unexpected error, nothing was changed: ${String(error).split("\n")[0]}`,
  );
  writeStderr(line);
  Deno.exit(2);
}

// The exit code is the contract with VDSM: a stderr that cannot be written (closed, a full
// disk) loses the line, never turns a success into a failure or a refusal into something else.
function writeStderr(line: string): void {
  const bytes = new TextEncoder().encode(`${line}\n`);
  try {
    for (let written = 0; written < bytes.length;) {
      written += Deno.stderr.writeSync(bytes.subarray(written));
    }
  } catch {
    // nowhere left to say it
  }
}
