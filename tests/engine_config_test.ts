import assert from "node:assert/strict";
import {
  EngineConfigSyntaxError,
  findUnbalancedBracket,
  formatCustomDeviceProperties,
  isAcceptedByEngineConfig,
  parseCustomDeviceProperties,
  parseEngineConfigOutput,
  planExtnetPg,
  quoteForShell,
  renderCommands,
  withProperty,
} from "../admin/engine_config.ts";
import { PROPERTY_REGEX as EXTNET_PG_REGEX } from "../lib/property.ts";

const FIXTURES = new URL("./fixtures/engine-config/", import.meta.url);

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

// The default of every version in oVirt engine 4.5
// (packaging/dbscripts/upgrade/pre_upgrade/0000_config.sql).
const SECURITY_GROUPS = "SecurityGroups=^(?:(?:[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}" +
  "[0-9a-fA-F]{12}, *)*[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|)$";
const DEFAULT_VALUE = `{type=interface;prop={${SECURITY_GROUPS}}}`;
const OLD_EXTNET_PG = "extnet_pg=^[a-zA-Z0-9_ ---]+(:[a-zA-Z0-9_ ---]+|)$";
const NEW_EXTNET_PG = "extnet_pg=^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$";
const DEFAULT_WITH_EXTNET_PG = `{type=interface;prop={${SECURITY_GROUPS};${NEW_EXTNET_PG}}}`;

function setCommand(version: string, value: string): string {
  return `engine-config -s CustomDeviceProperties='${value}' --cver=${version}`;
}

Deno.test("the emitted extnet_pg regex accepts NETWORK and NETWORK:PORTGROUP only", () => {
  assert.equal(NEW_EXTNET_PG, `extnet_pg=${EXTNET_PG_REGEX}`);
  const regex = new RegExp(EXTNET_PG_REGEX);
  const cases: [string, boolean][] = [
    ["ovirtmgmt", true],
    ["br-ex.100:pg_1", true],
    ["a".repeat(64), true],
    [`${"a".repeat(64)}:${"b".repeat(64)}`, true],
    ["a".repeat(65), false],
    ["", false],
    ["net:", false],
    [":pg", false],
    ["net:pg:extra", false],
    ["net pg", false],
    ["net!", false],
    ["net;pg", false],
  ];
  for (const [value, expected] of cases) {
    assert.equal(regex.test(value), expected, `extnet_pg=${JSON.stringify(value)}`);
  }
});

Deno.test("the old seed regex is wrong: it admits '!' and refuses '.'", () => {
  const old = new RegExp(OLD_EXTNET_PG.slice("extnet_pg=".length));
  assert.equal(old.test("net!"), true);
  assert.equal(old.test("br.100"), false);
});

Deno.test("parses engine-config -g output into one value per version", async (t) => {
  const cases: { fixture: string; versions: string[]; values: string[] }[] = [
    { fixture: "one-version.txt", versions: ["4.7"], values: [DEFAULT_VALUE] },
    {
      fixture: "engine-4.5-defaults.txt",
      versions: ["4.2", "4.3", "4.4", "4.5", "4.6", "4.7"],
      values: Array(6).fill(DEFAULT_VALUE),
    },
    {
      fixture: "empty-values.txt",
      versions: ["4.2", "4.3", "4.4", "4.5", "4.6", "4.7"],
      values: ["", "", ...Array(4).fill(DEFAULT_VALUE)],
    },
  ];
  for (const c of cases) {
    await t.step(c.fixture, () => {
      const parsed = parseEngineConfigOutput(fixture(c.fixture));
      assert.deepEqual(parsed.map((v) => v.version), c.versions);
      assert.deepEqual(parsed.map((v) => v.value), c.values);
    });
  }
});

Deno.test("an empty value has no device type blocks", () => {
  assert.deepEqual(parseEngineConfigOutput("CustomDeviceProperties:  version: 4.2\n"), [
    { version: "4.2", value: "", blocks: [] },
  ]);
});

Deno.test("the default value holds SecurityGroups on interfaces, regex intact", () => {
  assert.deepEqual(parseCustomDeviceProperties(DEFAULT_VALUE), [
    {
      type: "interface",
      properties: [{
        name: "SecurityGroups",
        regex: SECURITY_GROUPS.slice("SecurityGroups=".length),
      }],
    },
  ]);
});

Deno.test("a regex keeps braces, escapes and a trailing '}' before the block's '}}'", () => {
  const value = "{type=console;prop={type=^(text|vnc)$;prop=\\{\\}}};" +
    "{type=smartcard;prop={n=[0-9]{1,2};s=[\\{\\}]?;q=a{2}}}";
  assert.deepEqual(parseCustomDeviceProperties(value), [
    {
      type: "console",
      properties: [{ name: "type", regex: "^(text|vnc)$" }, { name: "prop", regex: "\\{\\}" }],
    },
    {
      type: "smartcard",
      properties: [
        { name: "n", regex: "[0-9]{1,2}" },
        { name: "s", regex: "[\\{\\}]?" },
        { name: "q", regex: "a{2}" },
      ],
    },
  ]);
});

// The compatibility versions a 4.5 engine lists.
const ENGINE_4_5_VERSIONS = ["4.2", "4.3", "4.4", "4.5", "4.6", "4.7"];

// The plans of versions whose value ends as the default with extnet_pg.
function plansFor(versions: string[], change: string) {
  return versions.map((version) => ({ version, change, next: DEFAULT_WITH_EXTNET_PG }));
}

Deno.test("planning adds, updates or leaves extnet_pg per version", async (t) => {
  const cases: {
    fixture: string;
    plans: { version: string; change: string; next: string }[];
  }[] = [
    {
      fixture: "one-version.txt",
      plans: [{ version: "4.7", change: "add", next: DEFAULT_WITH_EXTNET_PG }],
    },
    {
      fixture: "engine-4.5-defaults.txt",
      plans: plansFor(ENGINE_4_5_VERSIONS, "add"),
    },
    {
      fixture: "empty-values.txt",
      plans: [
        { version: "4.2", change: "add", next: `{type=interface;prop={${NEW_EXTNET_PG}}}` },
        { version: "4.3", change: "add", next: `{type=interface;prop={${NEW_EXTNET_PG}}}` },
        ...plansFor(ENGINE_4_5_VERSIONS.slice(2), "add"),
      ],
    },
    {
      fixture: "extnet-pg-old-regex.txt",
      plans: [{ version: "4.7", change: "update", next: DEFAULT_WITH_EXTNET_PG }],
    },
    {
      fixture: "extnet-pg-current.txt",
      plans: plansFor(ENGINE_4_5_VERSIONS, "none"),
    },
    {
      fixture: "extnet-pg-mixed.txt",
      plans: [
        { version: "4.5", change: "add", next: DEFAULT_WITH_EXTNET_PG },
        // The update keeps the property where it was, before SecurityGroups.
        {
          version: "4.6",
          change: "update",
          next: `{type=interface;prop={${NEW_EXTNET_PG};${SECURITY_GROUPS}}}`,
        },
        { version: "4.7", change: "none", next: DEFAULT_WITH_EXTNET_PG },
      ],
    },
    {
      fixture: "other-device-types.txt",
      plans: [
        // Blocks out of order are put in the engine's order, which engine-config -s demands.
        {
          version: "4.3",
          change: "add",
          next: "{type=disk;prop={bootable=^(true|false)$}};" +
            `{type=interface;prop={${NEW_EXTNET_PG}}};` +
            "{type=video;prop={turned_on=^(true|false)$}}",
        },
        // Trailing ';' (allowed by the engine) are not kept.
        {
          version: "4.4",
          change: "add",
          next: "{type=disk;prop={bootable=^(true|false)$}};" +
            `{type=interface;prop={${NEW_EXTNET_PG}}}`,
        },
        {
          version: "4.5",
          change: "add",
          next: "{type=disk;prop={bootable=^(true|false)$}};" +
            `{type=interface;prop={${NEW_EXTNET_PG}}};` +
            "{type=video;prop={turned_on=^(true|false)$}}",
        },
        {
          version: "4.6",
          change: "add",
          next: "{type=disk;prop={bootable=^(true|false)$}};" +
            `{type=interface;prop={${SECURITY_GROUPS};speed=[0-9]{1,5};${NEW_EXTNET_PG}}};` +
            "{type=console;prop={type=^(text|vnc)$;prop=\\{\\}}};" +
            "{type=smartcard;prop={spec_chars=[\\@\\#\\$\\%\\^\\&\\*\\(\\)\\{\\}\\:\\<\\>\\,\\.\\?\\[\\]]?}}",
        },
        {
          version: "4.7",
          change: "update",
          next: "{type=disk;prop={}};" +
            `{type=interface;prop={${SECURITY_GROUPS};${NEW_EXTNET_PG}}};` +
            "{type=redirdev;prop={filter=^[0-9a-f:,|-]*$}};{type=mdev;prop={}}",
        },
      ],
    },
  ];
  for (const c of cases) {
    await t.step(c.fixture, () => {
      const values = parseEngineConfigOutput(fixture(c.fixture));
      const plans = planExtnetPg(values);
      assert.deepEqual(
        plans.map(({ version, change, next }) => ({ version, change, next })),
        c.plans,
      );
      for (const [i, plan] of plans.entries()) {
        assert.equal(plan.current, values[i].value);
        if (plan.change === "none") assert.equal(plan.next, plan.current);
      }
    });
  }
});

Deno.test("every new value keeps all other blocks and properties and passes engine-config", () => {
  for (const entry of Deno.readDirSync(FIXTURES)) {
    if (entry.name.startsWith("malformed-")) continue;
    for (const { version, value, blocks } of parseEngineConfigOutput(fixture(entry.name))) {
      const [plan] = planExtnetPg([{ version, value, blocks }]);
      const where = `${entry.name} version ${version}`;
      assert.ok(isAcceptedByEngineConfig(plan.next), where);
      const before = blocks.flatMap((b) =>
        b.properties.map((p) => `${b.type} ${p.name}=${p.regex}`)
      );
      const after = parseCustomDeviceProperties(plan.next)
        .flatMap((b) => b.properties.map((p) => `${b.type} ${p.name}=${p.regex}`));
      const kept = before.filter((line) => !line.startsWith("interface extnet_pg="));
      assert.deepEqual(
        after.filter((line) => !line.startsWith("interface extnet_pg=")).sort(),
        kept.sort(),
        where,
      );
      assert.ok(after.includes(`interface ${NEW_EXTNET_PG}`), where);
    }
  }
});

Deno.test("planning again after applying the new values changes nothing", () => {
  const plans = planExtnetPg(parseEngineConfigOutput(fixture("other-device-types.txt")));
  const applied = plans
    .map((p) => `CustomDeviceProperties: ${p.next} version: ${p.version}`)
    .join("\n");
  assert.deepEqual(
    planExtnetPg(parseEngineConfigOutput(applied)).map((p) => p.change),
    plans.map(() => "none"),
  );
});

Deno.test("renders one engine-config command per changed version, then the restart", async (t) => {
  const cases: { fixture: string; commands: string[] }[] = [
    {
      fixture: "one-version.txt",
      commands: [setCommand("4.7", DEFAULT_WITH_EXTNET_PG), "systemctl restart ovirt-engine"],
    },
    {
      fixture: "engine-4.5-defaults.txt",
      commands: [
        ...["4.2", "4.3", "4.4", "4.5", "4.6", "4.7"].map((v) =>
          setCommand(v, DEFAULT_WITH_EXTNET_PG)
        ),
        "systemctl restart ovirt-engine",
      ],
    },
    {
      fixture: "extnet-pg-mixed.txt",
      commands: [
        setCommand("4.5", DEFAULT_WITH_EXTNET_PG),
        setCommand("4.6", `{type=interface;prop={${NEW_EXTNET_PG};${SECURITY_GROUPS}}}`),
        "systemctl restart ovirt-engine",
      ],
    },
    { fixture: "extnet-pg-current.txt", commands: [] },
  ];
  for (const c of cases) {
    await t.step(c.fixture, () => {
      const plans = planExtnetPg(parseEngineConfigOutput(fixture(c.fixture)));
      assert.deepEqual(renderCommands(plans), c.commands);
    });
  }
});

Deno.test("refuses to render a value holding a single quote", () => {
  const plans = planExtnetPg(parseEngineConfigOutput(fixture("single-quote.txt")));
  assert.throws(() => renderCommands(plans), {
    name: "RangeError",
    message: 'Cannot single-quote a word with "\'" at character 27: ' +
      "expected no single quote and no control character",
  });
});

Deno.test("quotes shell words with single quotes and refuses what they cannot hold", () => {
  assert.equal(quoteForShell('^a{1,2}(:b)?$ `x` \\ "q"'), "'^a{1,2}(:b)?$ `x` \\ \"q\"'");
  assert.throws(() => quoteForShell("it's"), { name: "RangeError" });
  assert.throws(() => quoteForShell("a\nb"), { name: "RangeError" });
});

Deno.test("withProperty creates the interface block when absent, in engine order", () => {
  const blocks = withProperty(
    parseCustomDeviceProperties("{type=disk;prop={}};{type=video;prop={}}"),
    "interface",
    "extnet_pg",
    "^x$",
  );
  assert.equal(
    formatCustomDeviceProperties(blocks),
    "{type=disk;prop={}};{type=interface;prop={extnet_pg=^x$}};{type=video;prop={}}",
  );
});

Deno.test("formatting refuses what the syntax cannot hold", () => {
  const cases: { properties: { name: string; regex: string }[]; message: string }[] = [
    {
      properties: [{ name: "a;b", regex: "x" }],
      message: "Cannot format property name 'a;b': expected [A-Za-z0-9_]+",
    },
    {
      properties: [{ name: "a", regex: "x;y" }],
      message: "Cannot format the regex of property 'a': it contains ';', which ends a property",
    },
  ];
  for (const c of cases) {
    assert.throws(
      () => formatCustomDeviceProperties([{ type: "interface", properties: c.properties }]),
      { name: "RangeError", message: c.message },
    );
  }
});

Deno.test("refuses malformed output with what was wrong and where", async (t) => {
  const cases: {
    fixture: string;
    message: string;
    version?: string;
    line: number;
    column: number;
  }[] = [
    {
      fixture: "malformed-unclosed-block.txt",
      message: "version 4.7, line 1, column 182: block type=interface opened at column 25 " +
        "is not closed: expected '}}' after its last property",
      version: "4.7",
      line: 1,
      column: 182,
    },
    {
      fixture: "malformed-unbalanced-brace.txt",
      message: "version 4.7, line 1, column 63: regex of property 'speed' in block " +
        "type=interface has an unbalanced '}': expected balanced brackets " +
        "(escape a literal one with '\\'; a regex cannot hold ';')",
      version: "4.7",
      line: 1,
      column: 63,
    },
    {
      fixture: "malformed-property-without-equals.txt",
      message: "version 4.7, line 1, column 191: property 'extnet_pg' in block type=interface " +
        "has no '=': expected NAME=REGEX, found '}}'",
      version: "4.7",
      line: 1,
      column: 191,
    },
    {
      fixture: "malformed-semicolon-in-regex.txt",
      message: "version 4.7, line 1, column 193: regex of property 'extnet_pg' in block " +
        "type=interface has an unbalanced '(': expected balanced brackets " +
        "(escape a literal one with '\\'; a regex cannot hold ';')",
      version: "4.7",
      line: 1,
      column: 193,
    },
    {
      fixture: "malformed-duplicate-property.txt",
      message: "version 4.7, line 1, column 233: second definition of property 'extnet_pg' " +
        "in block type=interface: expected unique names",
      version: "4.7",
      line: 1,
      column: 233,
    },
    {
      fixture: "malformed-duplicate-type.txt",
      message: "version 4.7, line 1, column 184: second block for device type 'interface': " +
        "expected one block per type",
      version: "4.7",
      line: 1,
      column: 184,
    },
    {
      fixture: "malformed-unknown-type.txt",
      message: "version 4.7, line 1, column 31: unknown device type 'nic': expected one of " +
        "disk, interface, video, graphics, sound, controller, balloon, channel, redir, " +
        "redirdev, console, rng, smartcard, watchdog, hostdev, memory, tpm, mdev",
      version: "4.7",
      line: 1,
      column: 31,
    },
    {
      fixture: "malformed-missing-block-separator.txt",
      message: "version 4.7, line 1, column 67: regex of property 'bootable' in block type=disk " +
        "contains '{type=': expected ';' between device type blocks",
      version: "4.7",
      line: 1,
      column: 67,
    },
    {
      fixture: "malformed-wrong-delimiter.txt",
      message: "version 4.7, line 1, column 40: expected ';prop={' after 'type=interface', " +
        "found ',prop={extnet_pg=^x$...'",
      version: "4.7",
      line: 1,
      column: 40,
    },
    {
      fixture: "malformed-trailing-text.txt",
      message: "version 4.7, line 1, column 67: expected ';' or the end of the value after " +
        "block type=interface, found ' garbage'",
      version: "4.7",
      line: 1,
      column: 67,
    },
    {
      fixture: "malformed-foreign-line.txt",
      message: "line 2, column 1: expected 'CustomDeviceProperties: VALUE version: X.Y', " +
        "found 'Picked up JAVA_TOOL_...'",
      line: 2,
      column: 1,
    },
    {
      fixture: "malformed-no-version.txt",
      message: "line 1, column 183: expected 'version: X.Y' at the end of the line",
      line: 1,
      column: 183,
    },
    {
      fixture: "malformed-duplicate-version.txt",
      message: "version 4.7, line 2, column 35: second value for version 4.7: " +
        "expected one line per version",
      version: "4.7",
      line: 2,
      column: 35,
    },
    {
      fixture: "malformed-empty-output.txt",
      message: "line 1, column 1: found no 'CustomDeviceProperties: VALUE version: X.Y' line: " +
        "expected at least one",
      line: 1,
      column: 1,
    },
  ];
  for (const c of cases) {
    await t.step(c.fixture, () => {
      assert.throws(() => parseEngineConfigOutput(fixture(c.fixture)), (error) => {
        assert.ok(error instanceof EngineConfigSyntaxError);
        assert.ok(error instanceof SyntaxError);
        assert.equal(error.message, c.message);
        assert.equal(error.message.includes("\n"), false);
        assert.equal(error.version, c.version);
        assert.equal(error.line, c.line);
        assert.equal(error.column, c.column);
        return true;
      });
    });
  }
});

Deno.test("a value parsed alone reports columns within the value", () => {
  assert.throws(() => parseCustomDeviceProperties("{type=disk;prop={a}}", "4.7"), {
    name: "EngineConfigSyntaxError",
    message: "version 4.7, column 19: property 'a' in block type=disk has no '=': " +
      "expected NAME=REGEX, found '}}'",
  });
});

// The engine's own cases (DevicePropertiesUtilsTest.java in oVirt/ovirt-engine): the parser
// and the ported validation pattern agree with the engine on each.
Deno.test("agrees with the engine's DevicePropertiesUtilsTest on valid and invalid values", () => {
  const cases: [string, boolean][] = [
    [
      "{type=disk;prop={bootable=^(true|false)$}};" +
      "{type=interface;prop={speed=[0-9]{1,5};duplex=^(full|half)$;debug=([a-z0-9A-Z]*)$}};" +
      "{type=video;prop={turned_on=^(true|false)$}};" +
      "{type=sound;prop={volume=[0-9]{1,2}}};" +
      "{type=controller;prop={hotplug=^(true|false)$}};" +
      "{type=balloon;prop={max_size=[0-9]{1,15}}};" +
      "{type=channel;prop={auth_type=^(plain|md5|kerberos)$}};" +
      "{type=redir;prop={max_len=[0-9]{1,15}}};" +
      "{type=console;prop={type=^(text|vnc)$}};" +
      "{type=smartcard;prop={version=([1-9]{1}).([0-9]{1})}}",
      true,
    ],
    [
      "{type=disk;prop={bootable=[\\@\\#\\$\\%\\^\\&\\*\\(\\)\\{\\}\\:\\<\\>\\,\\.\\?\\[\\]]?}};",
      true,
    ],
    ["", true],
    ["{type=diks;prop={bootable=^(true|false)$}}", false],
    ["{typ=disk;prop={bootable=^(true|false)$}}", false],
    ["{type=disk;prop={bootable=^(true|false)$}", false],
    ["{type=disk,prop={bootable=^(true|false)$}}", false],
    ["{type=disk;prop={boot*able=^(true|false)$}}", false],
    ["{type=disk;prop={bootable=^(true;false)$}}", false],
    ["{type=disk;prop={bootable=([{};])?}}", false],
  ];
  for (const [value, valid] of cases) {
    assert.equal(isAcceptedByEngineConfig(value), valid, value);
    if (valid) {
      parseCustomDeviceProperties(value);
    } else {
      assert.throws(() => parseCustomDeviceProperties(value), EngineConfigSyntaxError, value);
    }
  }
});

Deno.test("engine-config -s wants device type blocks in the engine's order", () => {
  assert.equal(isAcceptedByEngineConfig("{type=disk;prop={}};{type=interface;prop={}}"), true);
  assert.equal(isAcceptedByEngineConfig("{type=interface;prop={}};{type=disk;prop={}}"), false);
});

Deno.test("finds unbalanced brackets outside escapes and character classes", () => {
  const cases: [string, number][] = [
    [EXTNET_PG_REGEX, -1],
    [SECURITY_GROUPS, -1],
    ["[]{}()]", -1],
    ["\\Q{(\\E", -1],
    ["[a-z&&[^e]]{2}", -1],
    ["a{2}}", 4],
    ["^(a", 1],
    ["(a{)}", 3],
    ["[abc", 0],
  ];
  for (const [regex, index] of cases) {
    assert.equal(findUnbalancedBracket(regex), index, regex);
  }
});
