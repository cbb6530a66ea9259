import assert from "node:assert/strict";
import type { Account } from "../admin/access.ts";
import {
  describeNetwork,
  diagnose,
  type DoctorFacts,
  type Finding,
  renderFindings,
  renderJson,
  summarize,
} from "../admin/doctor.ts";
import { HOOK_POINTS } from "../lib/hook.ts";
import { describeVlan } from "../lib/network.ts";
import { recordedNetwork } from "./helpers.ts";

const VDSM: Account = { name: "vdsm", uid: 36, gid: 36, groups: [36], home: "/var/lib/vdsm" };
const autostarted = (name: string) => ({ ...recordedNetwork(name), autostart: true });

/** A host where everything is right. */
function healthy(): DoctorFacts {
  return {
    checkoutDir: "/opt/nn",
    mainPath: "/opt/nn/main.ts",
    main: { head: '#!/bin/sh\n//bin/true; echo "network-nat: x"\n', mode: 0o755 },
    deno: {
      servicePath: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
      ownDeno: "/usr/bin/deno",
      path: "/usr/bin/deno",
      version: "deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)",
    },
    hooksDir: "/h",
    hooksDirExists: true,
    points: HOOK_POINTS.map((point) => ({
      point,
      directoryExists: true,
      entry: { kind: "link", target: "/opt/nn/main.ts", resolved: "/opt/nn/main.ts" },
    })),
    entries: [],
    user: "vdsm",
    account: VDSM,
    access: [
      { facts: { path: "/opt", isDirectory: true, mode: 0o755, uid: 0, gid: 0 }, need: "x" },
      {
        facts: { path: "/opt/nn/main.ts", isDirectory: false, mode: 0o755, uid: 0, gid: 0 },
        need: "rx",
      },
    ],
    libvirt: {
      uri: "qemu:///system",
      user: "vdsm",
      virshPath: "/usr/bin/virsh",
      networks: [autostarted("ovs-net"), autostarted("br-net"), autostarted("default")],
    },
  };
}

const statuses = (findings: Finding[], check: string) =>
  findings.filter((f) => f.check === check).map((f) => f.status);

Deno.test("a healthy host has only ok findings", () => {
  const findings = diagnose(healthy());
  assert.deepEqual(summarize(findings), { ok: findings.length, warn: 0, fail: 0 });
  assert.deepEqual(statuses(findings, "hooks"), ["ok", "ok", "ok", "ok"]);
  assert.deepEqual(
    findings.filter((f) => f.check === "network").map((f) => f.message),
    [
      "ovs-net: Open vSwitch, active, autostart, portgroups vlan-10: VLAN 10; vlan-20: VLAN 20; " +
      "trunk (default): trunk 10,20 (native 20 untagged)",
      "br-net: Linux bridge, active, autostart, portgroups vlan-20: no VLAN",
      "default: NAT, active, autostart, no portgroups",
    ],
  );
});

Deno.test("no deno on vdsmd's PATH, or Deno 1, fails; an unknown version warns", () => {
  const facts = healthy();
  facts.deno = { ...facts.deno, path: undefined, version: undefined };
  const [missing] = diagnose(facts);
  assert.equal(missing.status, "fail");
  assert.match(missing.message, /no executable deno on vdsmd's PATH/);
  assert.match(missing.fix!, /\/usr\/local\/bin\/deno/);
  facts.deno = { ...facts.deno, path: "/usr/bin/deno", version: "deno 1.46.3 (stable)" };
  assert.equal(diagnose(facts)[0].status, "fail");
  facts.deno = { ...facts.deno, version: undefined, versionError: "NotCapable" };
  assert.equal(diagnose(facts)[0].status, "warn");
});

Deno.test("a missing or foreign hook link fails with the install command as fix", () => {
  const facts = healthy();
  facts.points[1] = { ...facts.points[1], entry: { kind: "missing" } };
  facts.points[2] = { ...facts.points[2], entry: { kind: "file", executable: true } };
  const hooks = diagnose(facts).filter((f) => f.check === "hooks");
  assert.deepEqual(hooks.map((f) => f.status), ["ok", "fail", "fail", "ok"]);
  assert.match(hooks[1].message, /before_nic_hotplug\/50_network_nat is missing/);
  assert.equal(hooks[1].fix, "deno task install");
  assert.match(hooks[2].message, /is an executable file, not a link to \/opt\/nn\/main.ts/);
  assert.match(hooks[2].fix!, /--force/);
});

Deno.test("another executable copy of the hook beside the links fails; other hooks do not", () => {
  const facts = healthy();
  facts.entries = [
    {
      point: "before_device_create",
      name: "60_old_copy",
      path: "/h/before_device_create/60_old_copy",
      entry: { kind: "file", executable: true },
      executable: true,
      projectScript: true,
    },
    {
      point: "before_device_create",
      name: "50_vmfex",
      path: "/h/before_device_create/50_vmfex",
      entry: { kind: "file", executable: true },
      executable: true,
      projectScript: false,
    },
  ];
  const hooks = diagnose(facts).filter((f) => f.check === "hooks" && f.status === "fail");
  assert.equal(hooks.length, 1);
  assert.match(hooks[0].message, /60_old_copy is an executable file holding the network-nat hook/);
  assert.equal(hooks[0].fix, "remove it (rm /h/before_device_create/60_old_copy)");
});

Deno.test("a hooks root that does not exist fails once", () => {
  const facts = healthy();
  facts.hooksDirExists = false;
  const hooks = diagnose(facts).filter((f) => f.check === "hooks");
  assert.deepEqual(hooks.map((f) => f.status), ["fail"]);
});

Deno.test("main.ts without its preamble or x bit fails", () => {
  const facts = healthy();
  facts.main = { head: "#!/bin/sh\n//bin/true; x\n", mode: 0o644 };
  const [main] = diagnose(facts).filter((f) => f.check === "main");
  assert.equal(main.status, "fail");
  assert.equal(main.fix, "run chmod 0755 /opt/nn/main.ts");
});

Deno.test("a checkout user vdsm cannot reach fails; a missing vdsm user warns", () => {
  const facts = healthy();
  facts.access = [{
    facts: { path: "/root", isDirectory: true, mode: 0o700, uid: 0, gid: 0 },
    need: "x",
  }];
  const [access] = diagnose(facts).filter((f) => f.check === "access");
  assert.equal(access.status, "fail");
  assert.match(access.message, /^user vdsm cannot search \(x\) \/root/);
  assert.match(access.fix!, /move the checkout/);
  facts.account = undefined;
  assert.deepEqual(statuses(diagnose(facts), "access"), ["warn"]);
});

Deno.test("networks that are inactive or not autostarted warn with the virsh fix", () => {
  const facts = healthy();
  facts.libvirt.networks = [
    { ...autostarted("br-net"), active: false },
    recordedNetwork("default"),
  ];
  const networks = diagnose(facts).filter((f) => f.check === "network");
  assert.deepEqual(networks.map((f) => f.status), ["warn", "warn"]);
  assert.match(networks[0].fix!, /virsh net-start br-net && virsh net-autostart br-net/);
  assert.match(networks[1].fix!, /after a host reboot.*virsh net-autostart default/);
});

Deno.test("libvirt that cannot be reached fails; no virsh on the PATH fails", () => {
  const facts = healthy();
  facts.libvirt = {
    uri: "qemu:///system",
    user: "vdsm",
    networks: [],
    error: "failed to connect to the hypervisor",
  };
  const findings = diagnose(facts);
  assert.deepEqual(statuses(findings, "virsh"), ["fail"]);
  assert.deepEqual(statuses(findings, "libvirt"), ["fail"]);
  assert.match(
    findings.find((f) => f.check === "libvirt")!.message,
    /^virsh -r -c qemu:\/\/\/system as user vdsm failed: failed to connect/,
  );
});

Deno.test("without virsh, a hook that asks libvirt's socket only warns", () => {
  const facts = healthy();
  facts.libvirt = {
    ...facts.libvirt,
    virshPath: undefined,
    socket: "/run/libvirt/libvirt-sock-ro",
  };
  const [virsh] = diagnose(facts).filter((f) => f.check === "virsh");
  assert.equal(virsh.status, "warn");
  assert.match(
    virsh.message,
    /: the hook does not need it \(it asks libvirt at \/run\/libvirt\/libvirt-sock-ro\), but this report/,
  );
});

Deno.test("the --value target is checked the way the hook checks it", () => {
  const facts = healthy();
  const target = (property: string, network = autostarted("ovs-net"), refusal?: string) => {
    facts.target = { property, network: refusal ? undefined : network, refusal };
    return diagnose(facts).filter((f) => f.check === "target");
  };
  const [ok] = target("ovs-net:vlan-20");
  assert.equal(ok.status, "ok");
  assert.match(ok.message, /redirect vNICs to Open vSwitch, portgroup vlan-20, VLAN 20/);
  const [portgroup] = target("ovs-net:vlan-30");
  assert.equal(portgroup.status, "fail");
  assert.match(portgroup.message, /has no portgroup 'vlan-30' \(it has: vlan-10, vlan-20, trunk\)/);
  const [value] = target("ovs net");
  assert.match(value.message, /extnet_pg="ovs net" is not NETWORK or NETWORK:PORTGROUP/);
  const [missing] = target("nope", undefined, "libvirt network 'nope' does not exist on this host");
  assert.equal(missing.status, "fail");
  const [inactive] = target("br-net", { ...autostarted("br-net"), active: false });
  assert.match(inactive.message, /is not active; start it with 'virsh net-start br-net'/);
  const [reboot] = target("default", recordedNetwork("default"));
  assert.equal(reboot.status, "warn");
});

Deno.test("renders text with fixes and a summary, and JSON for automation", () => {
  const findings: Finding[] = [
    { check: "deno", status: "ok", message: "fine" },
    { check: "hooks", status: "fail", message: "missing", fix: "deno task install" },
  ];
  assert.equal(
    renderFindings(findings),
    "ok    deno     fine\nFAIL  hooks    missing\n               fix: deno task install\n\n" +
      "1 ok, 0 warnings, 1 failure\n",
  );
  assert.ok(renderFindings(findings, true).includes("\x1b[1;31mFAIL \x1b[0m"));
  const json = JSON.parse(renderJson(findings, [recordedNetwork("default")]));
  assert.equal(json.ok, false);
  assert.deepEqual(json.summary, { ok: 1, warn: 0, fail: 1 });
  assert.equal(json.networks[0].kind, "NAT");
});

Deno.test("describes VLANs and networks as an admin reads them", () => {
  assert.equal(describeVlan(undefined), "no VLAN");
  assert.equal(describeVlan({ trunk: true, tags: [{ id: 10 }] }), "trunk 10");
  assert.equal(
    describeNetwork(recordedNetwork("br-net")),
    "br-net: Linux bridge, active, no autostart, portgroups vlan-20: no VLAN",
  );
});
