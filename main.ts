#!/bin/sh
//bin/true; [ -n "${extnet_pg+x}" ] || exit 0; command -v deno >/dev/null || { echo "network-nat: deno is not on PATH ($PATH); install Deno 2 in /usr/local/bin or /usr/bin" >&2; exit 2; }; f=$(readlink -f "$0" 2>/dev/null) || { echo "network-nat: cannot resolve $0 with readlink -f" >&2; exit 2; }; NO_COLOR=1 exec deno run -q --no-config --no-prompt --no-remote --allow-env --allow-read --allow-write --allow-run=virsh "$f" "$0"

/**
 * The network-nat VDSM hook.
 *
 * VDSM runs it, through a link in each hook point directory, for every vNIC at
 * VM start, NIC hot-plug, live NIC update and incoming migration. The lines
 * above are a POSIX shell preamble (TypeScript reads them as a comment): a vNIC
 * without `extnet_pg` costs no Deno start-up, and Deno runs this file by its
 * real path so relative imports work through the link. The link's path is the
 * first argument: it names the hook point.
 *
 * Exit codes are VDSM's: 0 done or nothing to do; 2 refused, with one line on
 * stderr, the file untouched, and later hooks skipped.
 *
 * @module
 */

try {
  // Loaded here rather than imported statically, so that even a broken install exits 2 with one line.
  const { runHook, hookPointOf } = await import("./lib/hook.ts");
  const { readHookFile, replaceHookFile } = await import("./host/hook_file.ts");
  const { libvirtUri, lookupNetwork } = await import("./host/virsh.ts");
  const { HOOK_PREFIX, Refusal } = await import("./lib/refusal.ts");

  const property = Deno.env.get("extnet_pg");
  if (property !== undefined) {
    const path = Deno.env.get("_hook_domxml");
    if (!path) {
      throw new Refusal(
        "_hook_domxml is not set: VDSM runs this file as a hook; to try it by hand, see 'deno task preview --help'",
      );
    }
    const uri = libvirtUri();
    const result = await runHook({
      point: hookPointOf(Deno.args[0] ?? ""),
      property,
      providerType: Deno.env.get("provider_type"),
      xml: readHookFile(path),
      lookupNetwork: (name) => lookupNetwork(name, uri),
    });
    if (result.xml !== undefined) replaceHookFile(path, result.xml);
    if (result.message) console.error(`${HOOK_PREFIX} ${result.message}`);
  }
  Deno.exit(0);
} catch (error) {
  // If lib/refusal.ts itself cannot be loaded, say so in the same one-line form.
  const line = await import("./lib/refusal.ts").then(
    ({ hookErrorLine }) => hookErrorLine(error),
    () => `network-nat: unexpected error, nothing was changed: ${String(error).split("\n")[0]}`,
  );
  console.error(line);
  Deno.exit(2);
}
