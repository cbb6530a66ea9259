/**
 * Pure logic for declaring the `extnet_pg` vNIC custom property in the oVirt engine's
 * `CustomDeviceProperties` option: parse what `engine-config -g CustomDeviceProperties`
 * prints, compute the new value per compatibility version, and render the
 * `engine-config -s` commands for an admin to paste. No I/O happens here.
 *
 * Facts taken from the oVirt engine source (oVirt/ovirt-engine, the same at tag
 * ovirt-engine-4.5.6 and on master):
 * - Output of `-g`: `EngineConfigLogic.printAllValuesForKey` (backend/manager/tools/src/main/
 *   java/org/ovirt/engine/core/config/EngineConfigLogic.java) writes, per row of
 *   `vdc_options` for the key, `KEY + ": " + value + " " + "version: " + version`. An empty
 *   value therefore gives two spaces. Rows come from `select * from vdc_options where
 *   option_name=?` (config/db/ConfigDaoImpl.java): no ORDER BY, and an exact key name.
 * - Syntax: `DevicePropertiesUtils` (backend/manager/modules/utils/.../customprop/
 *   DevicePropertiesUtils.java) and `CustomPropertiesUtils` (backend/manager/modules/common/
 *   .../utils/customprop/CustomPropertiesUtils.java). A block is
 *   `\{type=(TYPE);prop=\{PROPS\}\}[;]?`, PROPS is `(KV(;KV)*;?)?`, KV is
 *   `([a-z_A-Z0-9])+=([^;])*`. So a regex may hold braces but never `;`.
 * - `engine-config -s` validates with `isDevicePropertiesDefinitionValid`
 *   (config/entity/helper/DeviceCustomPropertiesValueHelper.java): the whole value must match
 *   one optional block per device type, in the order of the `VmDeviceGeneralType` enum
 *   (backend/manager/modules/common/.../businessentities/VmDeviceGeneralType.java).
 * - Default value (packaging/dbscripts/upgrade/pre_upgrade/0000_config.sql): the
 *   `SecurityGroups` interface property for every version up to the newest (4.7 in engine
 *   4.5, 4.8 on master); versions 4.2 to 4.7 exist in engine 4.5 (`fn_db_get_versions` in
 *   packaging/dbscripts/common_sp.sql).
 * - `engine-config -s` replaces the whole value of one version (`--cver`), see
 *   EngineConfigCLIParser.java and OptionKey.java.
 *
 * @module
 */

import { PROPERTY, PROPERTY_REGEX } from "../lib/property.ts";

// The engine-config option that declares device custom properties.
const CONFIG_KEY = "CustomDeviceProperties";

/** The command that prints the value of `CustomDeviceProperties` for every compatibility version. */
export const GET_COMMAND = `engine-config -g ${CONFIG_KEY}`;

// The command that makes the engine reload its configuration.
const RESTART_COMMAND = "systemctl restart ovirt-engine";

/**
 * Device types that may carry custom properties, in the order of the engine's
 * `VmDeviceGeneralType` enum (without `UNKNOWN`). `engine-config -s` accepts blocks only in
 * this order.
 */
const DEVICE_TYPES = [
  "disk",
  "interface",
  "video",
  "graphics",
  "sound",
  "controller",
  "balloon",
  "channel",
  "redir",
  "redirdev",
  "console",
  "rng",
  "smartcard",
  "watchdog",
  "hostdev",
  "memory",
  "tpm",
  "mdev",
] as const;

/** A device type known to the engine. */
export type DeviceType = typeof DEVICE_TYPES[number];

/** One custom property: its name and the Java regex its values must match. */
export interface DeviceProperty {
  readonly name: string;
  readonly regex: string;
}

/** The `{type=...;prop={...}}` block of one device type. */
export interface DeviceTypeBlock {
  readonly type: DeviceType;
  readonly properties: readonly DeviceProperty[];
}

/** The value of `CustomDeviceProperties` for one compatibility version. */
export interface VersionValue {
  readonly version: string;
  /** The value exactly as printed. */
  readonly value: string;
  readonly blocks: readonly DeviceTypeBlock[];
}

/** What a version needs: nothing, a new `extnet_pg`, or a new regex for it. */
export type Change = "none" | "add" | "update";

/** The outcome of {@linkcode planExtnetPg} for one version. */
export interface VersionPlan {
  readonly version: string;
  readonly current: string;
  /** The value to set; equal to `current` when `change` is `"none"`. */
  readonly next: string;
  readonly change: Change;
}

/** Where a parse error is: always a column, and a version and line when known. */
export interface ErrorLocation {
  readonly version?: string;
  readonly line?: number;
  /** 1-based column in the line (or in the value, when a value is parsed alone). */
  readonly column: number;
}

/**
 * A value or an `engine-config -g` output that this module does not understand. The message
 * is one line: where (version, line, column), what was wrong, and what was expected.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new EngineConfigSyntaxError("expected '}}'", { version: "4.7", column: 3 });
 * assert.deepEqual(error.message, "version 4.7, column 3: expected '}}'");
 * ```
 */
export class EngineConfigSyntaxError extends SyntaxError {
  readonly version: string | undefined;
  readonly line: number | undefined;
  readonly column: number;

  constructor(reason: string, location: ErrorLocation) {
    const where = [
      location.version === undefined ? undefined : `version ${location.version}`,
      location.line === undefined ? undefined : `line ${location.line}`,
      `column ${location.column}`,
    ].filter((part) => part !== undefined).join(", ");
    super(`${where}: ${reason}`);
    this.name = "EngineConfigSyntaxError";
    this.version = location.version;
    this.line = location.line;
    this.column = location.column;
  }
}

const TYPE_PREFIX = "{type=";
const PROP_PREFIX = ";prop={";
const BLOCK_END = "}}";
const NAME_RE = /^[A-Za-z0-9_]+$/;
const VERSION_RE = /^[0-9]+\.[0-9]+$/;
const LINE_PREFIX = `${CONFIG_KEY}: `;
const VERSION_SEPARATOR = " version: ";

/** Where a value sits, to report columns of the whole line. */
interface ValueOrigin {
  readonly version?: string;
  readonly line?: number;
  /** Columns before the value's first character. */
  readonly offset: number;
}

function fail(origin: ValueOrigin, index: number, reason: string): never {
  throw new EngineConfigSyntaxError(reason, {
    version: origin.version,
    line: origin.line,
    column: origin.offset + index + 1,
  });
}

/** A short, quoted look at the text at `index`, for messages. */
function found(text: string, index: number): string {
  if (index >= text.length) return "the end of the value";
  const rest = text.slice(index);
  return rest.length > 20 ? `'${rest.slice(0, 20)}...'` : `'${rest}'`;
}

function isDeviceType(name: string): name is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(name);
}

/** Returns the index of the `]` closing the character class opened at `start`, or -1. */
function findClassEnd(regex: string, start: number): number {
  let i = start + 1;
  if (regex[i] === "^") i++;
  if (regex[i] === "]") i++; // a leading ']' is literal in Java
  for (; i < regex.length; i++) {
    if (regex[i] === "\\") {
      i++;
    } else if (regex[i] === "[") { // Java allows nested classes, as in [a-z&&[^e]]
      i = findClassEnd(regex, i);
      if (i === -1) return -1;
    } else if (regex[i] === "]") {
      return i;
    }
  }
  return -1;
}

/**
 * Returns the index of the first bracket of `regex` (`(`, `)`, `[`, `{`, `}`) that has no
 * partner, or -1 when all pair up. Escaped characters (`\{`, `\Q...\E`) are skipped and
 * a character class (`[{(]`) counts as one unit.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(findUnbalancedBracket("^(a|[0-9]{1,5})$"), -1);
 * assert.equal(findUnbalancedBracket("[{}]\\{"), -1);
 * assert.equal(findUnbalancedBracket("a{2}}"), 4);
 * assert.equal(findUnbalancedBracket("^(a"), 1);
 * ```
 */
export function findUnbalancedBracket(regex: string): number {
  const opens: number[] = [];
  for (let i = 0; i < regex.length; i++) {
    const char = regex[i];
    if (char === "\\") {
      if (regex[i + 1] === "Q") {
        const end = regex.indexOf("\\E", i + 2);
        i = end === -1 ? regex.length : end + 1;
      } else {
        i++;
      }
    } else if (char === "[") {
      const end = findClassEnd(regex, i);
      if (end === -1) return i;
      i = end;
    } else if (char === "(" || char === "{") {
      opens.push(i);
    } else if (char === ")" || char === "}") {
      const open = opens.pop();
      if (open === undefined || regex[open] !== (char === ")" ? "(" : "{")) return i;
    }
  }
  return opens.length > 0 ? opens[0] : -1;
}

/** Refuses a property regex that would not survive a round trip through the syntax. */
function checkRegex(
  regex: string,
  name: string,
  type: string,
  origin: ValueOrigin,
  start: number,
): void {
  const typeAt = regex.indexOf(TYPE_PREFIX);
  if (typeAt !== -1) {
    fail(
      origin,
      start + typeAt,
      `regex of property '${name}' in block type=${type} contains '${TYPE_PREFIX}': ` +
        `expected ';' between device type blocks`,
    );
  }
  const bracket = findUnbalancedBracket(regex);
  if (bracket !== -1) {
    fail(
      origin,
      start + bracket,
      `regex of property '${name}' in block type=${type} has an unbalanced '${regex[bracket]}': ` +
        `expected balanced brackets (escape a literal one with '\\'; a regex cannot hold ';')`,
    );
  }
}

function parseBlocks(value: string, origin: ValueOrigin): DeviceTypeBlock[] {
  const blocks: DeviceTypeBlock[] = [];
  const seenTypes = new Set<string>();
  let i = 0;
  while (i < value.length) {
    const blockStart = i;
    if (!value.startsWith(TYPE_PREFIX, i)) {
      fail(
        origin,
        i,
        `expected '${TYPE_PREFIX}' to start a device type block, found ${found(value, i)}`,
      );
    }
    i += TYPE_PREFIX.length;
    const type = /^[a-z]*/.exec(value.slice(i))![0];
    if (type === "") {
      fail(
        origin,
        i,
        `expected a device type name after '${TYPE_PREFIX}', found ${found(value, i)}`,
      );
    }
    if (!isDeviceType(type)) {
      fail(origin, i, `unknown device type '${type}': expected one of ${DEVICE_TYPES.join(", ")}`);
    }
    if (seenTypes.has(type)) {
      fail(
        origin,
        blockStart,
        `second block for device type '${type}': expected one block per type`,
      );
    }
    seenTypes.add(type);
    i += type.length;
    if (!value.startsWith(PROP_PREFIX, i)) {
      fail(origin, i, `expected '${PROP_PREFIX}' after 'type=${type}', found ${found(value, i)}`);
    }
    i += PROP_PREFIX.length;

    const properties: DeviceProperty[] = [];
    let closed = value.startsWith(BLOCK_END, i);
    if (closed) i += BLOCK_END.length;
    while (!closed) {
      const nameStart = i;
      const name = /^[A-Za-z0-9_]*/.exec(value.slice(i))![0];
      if (name === "") {
        fail(
          origin,
          i,
          `expected a property name ([A-Za-z0-9_]+) in block type=${type}, ` +
            `found ${found(value, i)}`,
        );
      }
      i += name.length;
      if (value[i] !== "=") {
        fail(
          origin,
          i,
          `property '${name}' in block type=${type} has no '=': expected NAME=REGEX, ` +
            `found ${found(value, i)}`,
        );
      }
      i++;
      const regexStart = i;
      const semicolon = value.indexOf(";", i);
      const segmentEnd = semicolon === -1 ? value.length : semicolon;
      const segment = value.slice(i, segmentEnd);
      const after = value.slice(segmentEnd);
      // Like the engine's greedy `([^;])*`: the regex runs to the next ';' and gives back
      // the block's closing '}}' when the block ends there.
      const endsBlock = segment.endsWith(BLOCK_END) &&
        (after === "" || after === ";" || after.startsWith(`;${TYPE_PREFIX}`));
      let regex: string;
      if (endsBlock) {
        regex = segment.slice(0, -BLOCK_END.length);
        i = segmentEnd;
        closed = true;
      } else if (semicolon !== -1) {
        regex = segment;
        i = segmentEnd + 1;
        if (value.startsWith(BLOCK_END, i)) { // a trailing ';' before '}}'
          i += BLOCK_END.length;
          closed = true;
        }
      } else {
        const blockEnd = segment.lastIndexOf(BLOCK_END);
        if (blockEnd !== -1) {
          const at = regexStart + blockEnd + BLOCK_END.length;
          fail(
            origin,
            at,
            `expected ';' or the end of the value after block type=${type}, ` +
              `found ${found(value, at)}`,
          );
        }
        fail(
          origin,
          value.length,
          `block type=${type} opened at column ${origin.offset + blockStart + 1} is not closed: ` +
            `expected '${BLOCK_END}' after its last property`,
        );
      }
      checkRegex(regex, name, type, origin, regexStart);
      if (properties.some((property) => property.name === name)) {
        fail(
          origin,
          nameStart,
          `second definition of property '${name}' in block type=${type}: expected unique names`,
        );
      }
      properties.push({ name, regex });
    }
    blocks.push({ type, properties });

    if (i < value.length) {
      if (value[i] !== ";") {
        fail(
          origin,
          i,
          `expected ';' or the end of the value after block type=${type}, found ${found(value, i)}`,
        );
      }
      i++; // a ';' at the very end is accepted, as the engine does
    }
  }
  return blocks;
}

/**
 * Parses one value of `CustomDeviceProperties` into its device type blocks, refusing
 * anything it does not understand with an {@linkcode EngineConfigSyntaxError}. The empty
 * value has no blocks.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseCustomDeviceProperties("{type=interface;prop={a=^x$;b=[0-9]{2}}}"), [
 *   { type: "interface", properties: [{ name: "a", regex: "^x$" }, { name: "b", regex: "[0-9]{2}" }] },
 * ]);
 * ```
 */
export function parseCustomDeviceProperties(value: string, version?: string): DeviceTypeBlock[] {
  return parseBlocks(value, { version, offset: 0 });
}

/**
 * Parses the output of `engine-config -g CustomDeviceProperties`: one line
 * `CustomDeviceProperties: VALUE version: X.Y` per compatibility version, in the order
 * printed. Blank lines are skipped; any other line, a repeated version or an output
 * without any value is refused with an {@linkcode EngineConfigSyntaxError}.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const output = "CustomDeviceProperties:  version: 4.2\n";
 * assert.deepEqual(parseEngineConfigOutput(output), [{ version: "4.2", value: "", blocks: [] }]);
 * ```
 */
export function parseEngineConfigOutput(output: string): VersionValue[] {
  const values: VersionValue[] = [];
  const lines = output.split("\n");
  for (const [index, text] of lines.entries()) {
    const line = index + 1;
    if (text.trim() === "") continue;
    if (!text.startsWith(LINE_PREFIX)) {
      throw new EngineConfigSyntaxError(
        `expected '${LINE_PREFIX}VALUE${VERSION_SEPARATOR}X.Y', found ${found(text, 0)}`,
        { line, column: 1 },
      );
    }
    const separator = text.lastIndexOf(VERSION_SEPARATOR);
    if (separator < LINE_PREFIX.length - 1) {
      throw new EngineConfigSyntaxError(
        `expected '${VERSION_SEPARATOR.trim()} X.Y' at the end of the line`,
        { line, column: text.length + 1 },
      );
    }
    const version = text.slice(separator + VERSION_SEPARATOR.length);
    const versionColumn = separator + VERSION_SEPARATOR.length + 1;
    if (!VERSION_RE.test(version)) {
      throw new EngineConfigSyntaxError(
        `expected a compatibility version like 4.7, found ${JSON.stringify(version)}`,
        { line, column: versionColumn },
      );
    }
    if (values.some((known) => known.version === version)) {
      throw new EngineConfigSyntaxError(
        `second value for version ${version}: expected one line per version`,
        { version, line, column: versionColumn },
      );
    }
    // With an empty value the separator's leading space is the prefix's trailing one.
    const value = text.slice(LINE_PREFIX.length, Math.max(separator, LINE_PREFIX.length));
    const blocks = parseBlocks(value, { version, line, offset: LINE_PREFIX.length });
    values.push({ version, value, blocks });
  }
  if (values.length === 0) {
    throw new EngineConfigSyntaxError(
      `found no '${LINE_PREFIX}VALUE${VERSION_SEPARATOR}X.Y' line: expected at least one`,
      { line: 1, column: 1 },
    );
  }
  return values;
}

/**
 * Renders device type blocks as a `CustomDeviceProperties` value, blocks in the engine's
 * device type order and separated by `;`, as `engine-config -s` requires. Throws a
 * `RangeError` for a block or property the syntax cannot hold.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const value = formatCustomDeviceProperties([
 *   { type: "interface", properties: [{ name: "a", regex: "^x$" }] },
 *   { type: "disk", properties: [] },
 * ]);
 * assert.deepEqual(value, "{type=disk;prop={}};{type=interface;prop={a=^x$}}");
 * ```
 */
export function formatCustomDeviceProperties(blocks: readonly DeviceTypeBlock[]): string {
  const seen = new Set<string>();
  for (const block of blocks) {
    if (!isDeviceType(block.type)) {
      throw new RangeError(
        `Cannot format device type '${block.type}': expected one of ${DEVICE_TYPES.join(", ")}`,
      );
    }
    if (seen.has(block.type)) {
      throw new RangeError(
        `Cannot format two blocks for device type '${block.type}': expected one per type`,
      );
    }
    seen.add(block.type);
    for (const { name, regex } of block.properties) {
      if (!NAME_RE.test(name)) {
        throw new RangeError(
          `Cannot format property name '${name}': expected [A-Za-z0-9_]+`,
        );
      }
      if (regex.includes(";")) {
        throw new RangeError(
          `Cannot format the regex of property '${name}': it contains ';', which ends a property`,
        );
      }
    }
  }
  const order = (block: DeviceTypeBlock) => DEVICE_TYPES.indexOf(block.type);
  return [...blocks]
    .sort((a, b) => order(a) - order(b))
    .map((block) => {
      const props = block.properties.map(({ name, regex }) => `${name}=${regex}`).join(";");
      return `${TYPE_PREFIX}${block.type}${PROP_PREFIX}${props}${BLOCK_END}`;
    })
    .join(";");
}

const ENGINE_KV = "([a-z_A-Z0-9])+=([^;])*";
const ENGINE_PROPS = `(${ENGINE_KV}(;${ENGINE_KV})*;?)?`;
// Port of DevicePropertiesUtils' devicePropValidationStr; JavaScript and Java agree on
// whether this pattern matches a whole string.
const ENGINE_BLOCKS = DEVICE_TYPES.map((type) =>
  `((\\{type=(${type});prop=\\{${ENGINE_PROPS}\\}\\}[;]?)?)`
);
const ENGINE_VALIDATION_RE = new RegExp(`^${ENGINE_BLOCKS.join("")}$`);

/**
 * Tells whether `engine-config -s` would accept `value` for `CustomDeviceProperties`: the
 * same pattern as the engine's `DevicePropertiesUtils.isDevicePropertiesDefinitionValid`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(isAcceptedByEngineConfig("{type=disk;prop={}};{type=interface;prop={a=x}}"));
 * assert.ok(!isAcceptedByEngineConfig("{type=interface;prop={a=x}};{type=disk;prop={}}"));
 * ```
 */
export function isAcceptedByEngineConfig(value: string): boolean {
  return ENGINE_VALIDATION_RE.test(value);
}

// The regex of property `name` of device type `type`, or `undefined` when absent.
function findPropertyRegex(
  blocks: readonly DeviceTypeBlock[],
  type: DeviceType,
  name: string,
): string | undefined {
  return blocks.find((block) => block.type === type)?.properties
    .find((property) => property.name === name)?.regex;
}

/**
 * Returns `blocks` with property `name` of device type `type` set to `regex`: updated in
 * place when present, else appended to the type's block, which is created when absent.
 * Every other block and property is kept as is.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const blocks = withProperty([], "interface", "extnet_pg", "^x$");
 * assert.deepEqual(blocks, [{ type: "interface", properties: [{ name: "extnet_pg", regex: "^x$" }] }]);
 * ```
 */
export function withProperty(
  blocks: readonly DeviceTypeBlock[],
  type: DeviceType,
  name: string,
  regex: string,
): DeviceTypeBlock[] {
  const property = { name, regex };
  if (!blocks.some((block) => block.type === type)) {
    return [...blocks, { type, properties: [property] }];
  }
  return blocks.map((block) => {
    if (block.type !== type) return block;
    const present = block.properties.some((p) => p.name === name);
    const properties = present
      ? block.properties.map((p) => p.name === name ? property : p)
      : [...block.properties, property];
    return { type, properties };
  });
}

/**
 * Computes, for each version, the value that declares `extnet_pg` on interfaces with
 * `regex` (default `PROPERTY_REGEX` of `property.ts`) and keeps everything else. A version
 * whose `extnet_pg` already has exactly that regex needs no change and keeps its value.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROPERTY_REGEX } from "../lib/property.ts";
 * const [plan] = planExtnetPg(parseEngineConfigOutput("CustomDeviceProperties:  version: 4.7"));
 * assert.deepEqual(plan.change, "add");
 * assert.deepEqual(plan.next, `{type=interface;prop={extnet_pg=${PROPERTY_REGEX}}}`);
 * ```
 */
export function planExtnetPg(
  values: readonly VersionValue[],
  regex: string = PROPERTY_REGEX,
): VersionPlan[] {
  return values.map(({ version, value, blocks }) => {
    const existing = findPropertyRegex(blocks, "interface", PROPERTY);
    if (existing === regex) return { version, current: value, next: value, change: "none" };
    const wanted = withProperty(blocks, "interface", PROPERTY, regex);
    const next = formatCustomDeviceProperties(wanted);
    // The new value must read back as exactly the wanted blocks, and pass engine-config.
    const reread = formatCustomDeviceProperties(parseCustomDeviceProperties(next, version));
    if (reread !== next || !isAcceptedByEngineConfig(next)) {
      throw new RangeError(
        `Cannot build a value for version ${version} that engine-config reads back unchanged: ` +
          `check the regex '${regex}'`,
      );
    }
    return { version, current: value, next, change: existing === undefined ? "add" : "update" };
  });
}

/**
 * Quotes `word` for a POSIX shell with single quotes, inside which no character is special.
 * Throws a `RangeError` when `word` holds a single quote or a control character, which
 * this module never needs to pass.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(quoteForShell("^a{1,2}(:b)?$"), "'^a{1,2}(:b)?$'");
 * ```
 */
export function quoteForShell(word: string): string {
  const chars = [...word];
  const bad = chars.findIndex((char) => char === "'" || char < " " || char === "\x7f");
  if (bad !== -1) {
    const char = JSON.stringify(chars[bad]);
    throw new RangeError(
      `Cannot single-quote a word with ${char} at character ${bad + 1}: ` +
        `expected no single quote and no control character`,
    );
  }
  return `'${word}'`;
}

// The `engine-config -s` command that sets `value` for compatibility `version`.
function engineConfigSetCommand(version: string, value: string): string {
  if (!VERSION_RE.test(version)) {
    throw new RangeError(`Cannot use version '${version}': expected a version like 4.7`);
  }
  return `engine-config -s ${CONFIG_KEY}=${quoteForShell(value)} --cver=${version}`;
}

/**
 * Renders the commands to paste: one `engine-config -s` per version that needs a change,
 * then the engine restart. Returns no command when no version needs a change.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROPERTY_REGEX } from "../lib/property.ts";
 * const plans = planExtnetPg(parseEngineConfigOutput("CustomDeviceProperties:  version: 4.7"));
 * assert.deepEqual(renderCommands(plans), [
 *   `engine-config -s CustomDeviceProperties='{type=interface;prop={extnet_pg=${PROPERTY_REGEX}}}' --cver=4.7`,
 *   "systemctl restart ovirt-engine",
 * ]);
 * ```
 */
export function renderCommands(plans: readonly VersionPlan[]): string[] {
  const commands = plans
    .filter((plan) => plan.change !== "none")
    .map((plan) => engineConfigSetCommand(plan.version, plan.next));
  return commands.length === 0 ? [] : [...commands, RESTART_COMMAND];
}

/**
 * Renders what `deno task engine-config` prints for the parsed output of
 * {@linkcode GET_COMMAND}: one comment line per version saying what changes, then the
 * commands of {@linkcode renderCommands}, or that there is nothing to run.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const report = renderReport(parseEngineConfigOutput("CustomDeviceProperties:  version: 4.7"));
 * assert.ok(report.includes("#   4.7: add extnet_pg, keep the rest\n"));
 * assert.ok(report.endsWith("systemctl restart ovirt-engine\n"));
 * ```
 */
export function renderReport(values: readonly VersionValue[]): string {
  const plans = planExtnetPg(values);
  const commands = renderCommands(plans);
  return [
    `# ${CONFIG_KEY}, per compatibility version (${PROPERTY}=${PROPERTY_REGEX}):`,
    ...plans.map((plan, index) => describePlan(plan, values[index].blocks)),
    ...(commands.length === 0 ? ["# nothing to change: no command to run"] : [
      "# run on the engine machine ('engine-config -s' replaces a version's whole value):",
      ...commands,
    ]),
  ].map((line) => `${line}\n`).join("");
}

function describePlan(plan: VersionPlan, blocks: readonly DeviceTypeBlock[]): string {
  switch (plan.change) {
    case "none":
      return `#   ${plan.version}: ${PROPERTY} is already declared right; nothing to change`;
    case "add":
      return `#   ${plan.version}: add ${PROPERTY}, keep the rest`;
    case "update":
      return `#   ${plan.version}: replace the ${PROPERTY} regex ` +
        `${findPropertyRegex(blocks, "interface", PROPERTY)}, keep the rest`;
  }
}
