/**
 * Property-based differential tests of the XML scanner (`lib/xml.ts`) against
 * saxes, a conforming XML 1.0 parser run in non-namespace mode, and of the
 * in-place `<interface>` rewrite against a reference built from saxes events.
 *
 * The total number of generated cases is `NETWORK_NAT_FUZZ_RUNS` (default
 * 20,000), spread over the properties; `NETWORK_NAT_FUZZ_SEED` replays a seed
 * that fast-check reported. `deno task fuzz` runs many more cases.
 *
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- inline: npm packages in deno.json make every task fetch them (offline hosts)
import fc from "npm:fast-check@4.11.0";
// deno-lint-ignore no-import-prefix -- inline: npm packages in deno.json make every task fetch them (offline hosts)
import { SaxesParser } from "npm:saxes@6.0.0";
import { readInterface, rewriteInterface } from "../lib/interface.ts";
import type { Target } from "../lib/property.ts";
import { Refusal } from "../lib/refusal.ts";
import { parseXml, type XmlDocument, type XmlElement, XmlSyntaxError } from "../lib/xml.ts";

// ---------------------------------------------------------------------------
// Run settings

function env(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}

const TOTAL_RUNS = Number(env("NETWORK_NAT_FUZZ_RUNS") ?? 20_000);
const SEED = env("NETWORK_NAT_FUZZ_SEED");

/** fast-check parameters for a property that gets `share` of the total runs. */
function runs(share: number): fc.Parameters<unknown> {
  return {
    numRuns: Math.max(1, Math.round(TOTAL_RUNS * share)),
    ...(SEED === undefined ? {} : { seed: Number(SEED) }),
  };
}

// ---------------------------------------------------------------------------
// The reference: saxes, fed the whole text, in non-namespace mode

type Attr = [name: string, value: string];

type Event =
  | ["xmldecl", string | undefined, string | undefined, string | undefined]
  | ["doctype", string]
  | ["text", string]
  | ["cdata", string]
  | ["comment", string]
  | ["pi", string, string]
  | ["open", string, Attr[]]
  | ["close", string];

interface RefElement {
  name: string;
  attributes: Attr[];
  children: RefElement[];
  /** Index of the `<` of the start tag. */
  start: number;
  /** Index just past the start tag. */
  startTagEnd: number;
  depth: number;
}

interface Reference {
  errors: string[];
  events: Event[];
  elements: RefElement[];
  root?: RefElement;
  version?: string;
  encoding?: string;
  doctype: boolean;
  pis: { target: string; body: string }[];
}

function reference(text: string): Reference {
  const parser = new SaxesParser({ xmlns: false });
  const ref: Reference = { errors: [], events: [], elements: [], doctype: false, pis: [] };
  const stack: RefElement[] = [];
  let pending: Attr[] = [];
  let tagStart = -1;
  parser.on("error", (error) => ref.errors.push(error.message));
  parser.on("xmldecl", (decl) => {
    ref.version = decl.version;
    ref.encoding = decl.encoding;
    ref.events.push(["xmldecl", decl.version, decl.encoding, decl.standalone]);
  });
  parser.on("doctype", (doctype) => {
    ref.doctype = true;
    ref.events.push(["doctype", doctype]);
  });
  parser.on("text", (text) => ref.events.push(["text", text]));
  parser.on("cdata", (cdata) => ref.events.push(["cdata", cdata]));
  parser.on("comment", (comment) => ref.events.push(["comment", comment]));
  parser.on("processinginstruction", ({ target, body }) => {
    ref.pis.push({ target, body });
    ref.events.push(["pi", target, body]);
  });
  parser.on("opentagstart", (tag) => {
    // The name is followed by one character (two for CR LF) when this fires.
    tagStart = text.lastIndexOf(`<${tag.name}`, parser.position);
    pending = [];
  });
  parser.on("attribute", ({ name, value }) => pending.push([name, value]));
  parser.on("opentag", (tag) => {
    const element: RefElement = {
      name: tag.name,
      attributes: pending,
      children: [],
      start: tagStart,
      startTagEnd: parser.position,
      depth: stack.length,
    };
    stack.at(-1)?.children.push(element);
    ref.root ??= element;
    ref.elements.push(element);
    stack.push(element);
    ref.events.push(["open", tag.name, pending]);
  });
  parser.on("closetag", (tag) => {
    stack.pop();
    ref.events.push(["close", tag.name]);
  });
  try {
    parser.write(text).close();
  } catch (error) {
    // saxes throws (String.fromCodePoint(NaN)) on a high surrogate at the very end of a
    // PI target; see UNPAIRED_HIGH_SURROGATE. Anything else it throws is a finding.
    if (!UNPAIRED_HIGH_SURROGATE.test(text)) throw error;
    ref.errors.push(`saxes threw ${error}`);
  }
  return ref;
}

type Verdict = { ok: true; document: XmlDocument } | { ok: false; error: XmlSyntaxError };

/** Runs parseXml; anything thrown other than XmlSyntaxError fails the property. */
function ours(text: string): Verdict {
  try {
    return { ok: true, document: parseXml(text) };
  } catch (error) {
    if (error instanceof XmlSyntaxError) return { ok: false, error };
    throw error;
  }
}

const NAME_START = ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D" +
  "\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF" +
  "\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}";
const NAME_REST = NAME_START + "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040";
const PI_WITHOUT_SPACE = new RegExp(`<\\?[${NAME_START}][${NAME_REST}]*$`, "u");

/**
 * Where saxes 6.0.0 is not conforming, and so accepts a document that is not
 * well-formed; returns why, or undefined. Each case is checked independently of
 * our parser's reasoning (only its error offset is used to find the spot).
 *
 * - [16] PI ::= '<?' PITarget (S (Char* - (Char* '?>' Char*)))? '?>' requires white
 *   space between the target and any content, but saxes takes `<?a?b?>` as target
 *   `a` with content `?b` (its sPIEnding state goes back to the body on a `?` not
 *   followed by `>`, without requiring the S).
 */
function saxesMissesError(text: string, ref: Reference, verdict: Verdict): string | undefined {
  if (verdict.ok) return undefined;
  const at = verdict.error.offset;
  const target = PI_WITHOUT_SPACE.exec(text.slice(0, at))?.[0].slice(2);
  if (
    target !== undefined && text[at] === "?" && text[at + 1] !== ">" &&
    ref.pis.some((pi) => pi.target === target && pi.body.startsWith("?"))
  ) {
    return "[16] PI: no white space between the target and the content";
  }
  return undefined;
}

/**
 * Texts on which saxes 6.0.0 is not conforming, whatever else they hold: a high
 * surrogate that no low surrogate follows. Such a string is not a sequence of
 * [2] Char (which excludes #xD800-#xDFFF), but saxes' getCode10 joins a high
 * surrogate with whatever code unit follows it, swallowing that unit (so even
 * `<a b="\uDBFF<"/>` passes), and it throws a RangeError when the surrogate ends the
 * text inside a PI target. Our parser must refuse these texts.
 */
const UNPAIRED_HIGH_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/;

/** This parser's deliberate refusals beyond well-formedness, for a document saxes accepts. */
function extraRefusals(ref: Reference): RegExp[] {
  const reasons: RegExp[] = [];
  if (ref.doctype) reasons.push(/a DOCTYPE is not accepted/);
  if (ref.version !== undefined && ref.version !== "1.0") {
    reasons.push(/XML version .* not supported/);
  }
  if (ref.encoding !== undefined && ref.encoding.toUpperCase() !== "UTF-8") {
    reasons.push(/encoding .* not supported/);
  }
  return reasons;
}

function checkAgreement(text: string): void {
  const ref = reference(text);
  const verdict = ours(text);
  if (UNPAIRED_HIGH_SURROGATE.test(text)) {
    assert.equal(verdict.ok, false, "accepted an unpaired surrogate");
    // Characters are checked first, so the first non-Char is the one reported.
    assert.match(verdict.error.message, /^character U\+[0-9A-F]{4,} is not allowed in XML/);
    return;
  }
  if (ref.errors.length > 0) {
    assert.equal(verdict.ok, false, `accepted, but saxes reports: ${ref.errors.join(" / ")}`);
    return;
  }
  if (!verdict.ok && saxesMissesError(text, ref, verdict)) return;
  // libvirt's parser (libxml2 without XML_PARSE_HUGE) refuses what saxes has no limit for.
  if (!verdict.ok && /\(libvirt refuses (it|them)\)/.test(verdict.error.message)) return;
  const extra = extraRefusals(ref);
  if (extra.length > 0) {
    assert.equal(verdict.ok, false, `accepted, but it must be refused (${extra[0].source})`);
    assert.ok(
      extra.some((reason) => reason.test(verdict.error.message)),
      `refused for another reason: ${verdict.error.message}`,
    );
    return;
  }
  assert.equal(
    verdict.ok,
    true,
    `refused what saxes accepts: ${verdict.ok ? "" : verdict.error.message}`,
  );
}

type TreeEvent = ["open", string, Attr[]] | ["close"];

/** The element tree as a flat pre-order list (deep trees overflow a recursive deepEqual). */
function flatten<T extends { name: string; children: T[] }>(
  root: T,
  attrs: (element: T) => Attr[],
) {
  const out: TreeEvent[] = [];
  const stack: (T | undefined)[] = [root];
  while (stack.length > 0) {
    const element = stack.pop();
    if (element === undefined) {
      out.push(["close"]);
      continue;
    }
    out.push(["open", element.name, attrs(element)]);
    stack.push(undefined, ...element.children.toReversed());
  }
  return out;
}

const ourTree = (root: XmlElement) =>
  flatten(root, (element) => element.attributes.map((a): Attr => [a.name, a.value]));
const refTree = (root: RefElement) => flatten(root, (element) => element.attributes);

// ---------------------------------------------------------------------------
// Arbitraries for mostly well-formed documents with targeted mutations

/** `good` most of the time, `bad` now and then. */
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>, badWeight = 1): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: 80 }, { arbitrary: bad, weight: badWeight });
}

function joined(piece: fc.Arbitrary<string>, maxLength = 5): fc.Arbitrary<string> {
  return fc.array(piece, { maxLength }).map((pieces) => pieces.join(""));
}

// Boundaries of [4] NameStartChar and [4a] NameChar.
const NAME_START_SAMPLES = [
  "A",
  "z",
  "_",
  ":",
  "\u00C0",
  "\u00D6",
  "\u00D8",
  "\u00F6",
  "\u00F8",
  "\u02FF",
  "\u0370",
  "\u037D",
  "\u037F",
  "\u1FFF",
  "\u200C",
  "\u200D",
  "\u2070",
  "\u218F",
  "\u2C00",
  "\u2FEF",
  "\u3001",
  "\uD7FF",
  "\uF900",
  "\uFDCF",
  "\uFDF0",
  "\uFEFF",
  "\uFFFD",
  "\u{10000}",
  "\u{EFFFF}",
];
const NAME_ONLY_SAMPLES = ["-", ".", "0", "9", "\u00B7", "\u0300", "\u036F", "\u203F", "\u2040"];
const NOT_NAME_SAMPLES = [
  "\u00D7",
  "\u00F7",
  "\u037E",
  "\u2000",
  "\u200B",
  "\u200E",
  "\u2190",
  "\u2BFF",
  "\u2FF0",
  "\u3000",
  "\uE000",
  "\uF8FF",
  "\uFDD0",
  "\uFDEF",
  "\u{F0000}",
  "\u{10FFFF}",
  "$",
  "@",
  "\u0001",
];
// [2] Char excludes these.
const NOT_CHARS = [
  "\u0000",
  "\u0001",
  "\u0008",
  "\u000B",
  "\u000C",
  "\u001F",
  "\uD800",
  "\uDFFF",
  "\uFFFE",
  "\uFFFF",
];
const GOOD_CODES = [0x9, 0xA, 0xD, 0x20, 0x41, 0xFF, 0xD7FF, 0xE000, 0xFFFD, 0x10000, 0x10FFFF];
const BAD_CODES = [0, 1, 8, 0xB, 0x1F, 0xD800, 0xDFFF, 0xFFFE, 0xFFFF, 0x110000, 0xFFFFFFFF, 1e21];

const simpleName = fc.constantFrom("a", "b", "x", "ns:a", "_", "a-b", "a.1", "xmlns");
const exoticName = fc.tuple(
  fc.constantFrom(...NAME_START_SAMPLES),
  fc.array(fc.constantFrom(...NAME_START_SAMPLES, ...NAME_ONLY_SAMPLES), { maxLength: 3 }),
).map(([first, rest]) => first + rest.join(""));
const badName = fc.oneof(
  fc.tuple(fc.constantFrom(...NAME_ONLY_SAMPLES, ...NOT_NAME_SAMPLES), simpleName)
    .map(([first, rest]) => first + rest),
  fc.tuple(simpleName, fc.constantFrom(...NOT_NAME_SAMPLES)).map(([first, bad]) => first + bad),
  fc.constant(""),
);
const name = fc.oneof(
  { arbitrary: simpleName, weight: 30 },
  { arbitrary: exoticName, weight: 10 },
  { arbitrary: badName, weight: 1 },
);

const charRef = fc.tuple(
  mostly(fc.constantFrom(...GOOD_CODES), fc.constantFrom(...BAD_CODES), 6),
  mostly(fc.constantFrom("dec", "hex", "HEX", "zeros"), fc.constant("X")),
).map(([code, style]) => {
  switch (style) {
    case "dec":
      return `&#${BigInt(code)};`;
    case "hex":
      return `&#x${code.toString(16)};`;
    case "HEX":
      return `&#x${code.toString(16).toUpperCase()};`;
    case "zeros":
      return `&#000${BigInt(code)};`;
    default:
      return `&#X${code.toString(16)};`; // not a reference: 'x' must be lower case
  }
});
const goodEntityRef = fc.constantFrom("&amp;", "&lt;", "&gt;", "&apos;", "&quot;");
const badEntityRef = fc.constantFrom(
  "&nbsp;",
  "&AMP;",
  "&amp",
  "&",
  "&;",
  "&#;",
  "&#x;",
  "&a b;",
  "&1a;",
  "&:a;",
  "&\u00E9;",
  "&#12a;",
  "& amp;",
);
const reference_ = mostly(fc.oneof(goodEntityRef, charRef), badEntityRef, 4);

const space = fc.constantFrom(" ", " ", " ", "\t", "\n", "\r\n", "\r", "  ", " \t\r\n");
const optionalSpace = fc.oneof({ arbitrary: fc.constant(""), weight: 3 }, space);
// Any C0 control character other than tab, LF and CR, or one of the other non-Chars.
const badChar = fc.oneof(
  fc.integer({ min: 0, max: 0x1F }).filter((c) => c !== 0x9 && c !== 0xA && c !== 0xD)
    .map((c) => String.fromCharCode(c)),
  fc.constantFrom(...NOT_CHARS),
);

const textPiece = mostly(
  fc.oneof(
    fc.constantFrom("x", "text", " ", "\t", "\n", "\r", "\r\n", ">", "]", "]]", "] ]>", "'", '"'),
    fc.constantFrom("\u00E9", "\u{10000}", "\u007F", "\u0085", "\u2028", "\uFEFF", "?>", "-->"),
    reference_,
  ),
  fc.constantFrom("]]>", "&", "<", "<!", "<!x>", "]]]>"),
  2,
).chain((piece) =>
  piece === "x"
    ? fc.oneof({ arbitrary: fc.constant(piece), weight: 30 }, badChar)
    : fc.constant(piece)
);
const text = joined(textPiece, 4);

const comment = fc.oneof(
  {
    weight: 8,
    arbitrary: joined(mostly(
      fc.constantFrom(
        "x",
        " ",
        "-x",
        "<a>",
        "&",
        "&undefined;",
        "]]>",
        "<!",
        "?>",
        "\u00E9",
        "\r\n",
      ),
      fc.constantFrom("--", "-", "\u0000", "--->"),
      3,
    )).map((body) => `<!--${body}-->`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "<!---->",
      "<!-- -->",
      "<!--->",
      "<!-->",
      "<!- x -->",
      "<!-- x --->",
      "<!-- x -- y -->",
      "<!-- x ->",
      "<!-- x",
      "<!--x-- >",
      "<!-- - -->",
    ),
  },
);

const piTarget = fc.oneof(
  { weight: 12, arbitrary: name },
  {
    weight: 1,
    arbitrary: fc.constantFrom("xml", "XML", "xMl", "xml-stylesheet", "xmlx", "x:xml", "xm"),
  },
);
const pi = fc.tuple(
  piTarget,
  mostly(fc.constantFrom(" ", "\t", "\n", "\r\n"), fc.constantFrom("", "?", "\u0001", "-", "/"), 3),
  joined(
    mostly(
      fc.constantFrom("x", " ", "?", ">", "? >", "<a>", "-->", "]]>", "&undefined;", "'", "\r"),
      fc.constantFrom("?>", "\u0000", "??>"),
      2,
    ),
    3,
  ),
  mostly(fc.constant("?>"), fc.constantFrom("? >", "?", ">", "")),
).map(([target, sep, body, end]) =>
  `<?${target}${body === "" && sep === "" ? "" : sep}${body}${end}`
);

const cdata = fc.tuple(
  mostly(
    fc.constant("<![CDATA["),
    fc.constantFrom("<![cdata[", "<![CDATA ", "<![ CDATA[", "<![CDATA"),
  ),
  joined(
    mostly(
      fc.constantFrom(
        "x",
        "<a>",
        "&",
        "&amp;",
        "]",
        "]]",
        "]>",
        ">",
        "<![CDATA[",
        "--",
        "\r\n",
        "]]]",
      ),
      fc.constantFrom("]]>", "\u0000", "\uFFFF"),
      2,
    ),
    4,
  ),
  mostly(fc.constant("]]>"), fc.constantFrom("]]", "]>", "")),
).map((parts) => parts.join(""));

const attrValuePiece = mostly(
  fc.oneof(
    fc.constantFrom("x", "val", " ", "\t", "\n", "\r\n", "\r", ">", "]]>", "\u00E9", "\u{10FFFF}"),
    reference_,
  ),
  fc.constantFrom("<", "&", "\u0000", "\u001F", "\uFFFE", "QUOTE"),
  3,
);
const attribute = fc.tuple(
  mostly(space, fc.constant("")),
  name,
  mostly(
    fc.tuple(optionalSpace, optionalSpace).map(([a, b]) => `${a}=${b}`),
    fc.constantFrom("", "==", " "),
  ),
  fc.constantFrom('"', "'"),
  fc.array(attrValuePiece, { maxLength: 4 }),
  mostly(fc.constant("same"), fc.constantFrom("other", "none")),
).map(([sep, attrName, eq, quote, pieces, close]) => {
  const other = quote === '"' ? "'" : '"';
  const value = pieces.map((p) => p === "QUOTE" ? quote : p === "'" || p === '"' ? other : p)
    .join("");
  const end = close === "same" ? quote : close === "other" ? other : "";
  return `${sep}${attrName}${eq}${quote}${value}${end}`;
});
// Values with the other quote character, both quote styles.
const quotedValue = fc.constantFrom(`a="it's"`, `a='say "hi"'`, `a="&quot;'"`, `a='&apos;"'`)
  .map((attr) => " " + attr);

const misc = fc.oneof(
  { weight: 4, arbitrary: space },
  { weight: 2, arbitrary: comment },
  { weight: 2, arbitrary: pi },
);

const endTagName = (start: string): fc.Arbitrary<string> =>
  mostly(fc.constant(start), fc.oneof(name, fc.constant(start.toUpperCase() + "x")), 1);

interface ElementShape {
  name: string;
  attributes: string[];
  beforeEnd: string;
  empty: boolean;
  content: string[];
  endName: string;
  endSpace: string;
  endStyle: string;
}

function renderElement(shape: ElementShape): string {
  const start = `<${shape.name}${shape.attributes.join("")}${shape.beforeEnd}`;
  if (shape.empty) return start + (shape.endStyle === "ok" ? "/>" : "/ >");
  const end = shape.endStyle === "ok"
    ? `</${shape.endName}${shape.endSpace}>`
    : shape.endStyle === "missing"
    ? ""
    : `</ ${shape.endName}>`;
  return `${start}>${shape.content.join("")}${end}`;
}

const { element } = fc.letrec((tie) => ({
  element: fc.record({
    name,
    attributes: fc.array(fc.oneof({ arbitrary: attribute, weight: 6 }, quotedValue), {
      maxLength: 3,
    }),
    beforeEnd: optionalSpace,
    empty: fc.boolean(),
    content: fc.array(tie("node") as fc.Arbitrary<string>, { maxLength: 4 }),
    endSpace: optionalSpace,
    endStyle: mostly(fc.constant("ok"), fc.constantFrom("missing", "space"), 1),
  }).chain((shape) =>
    endTagName(shape.name).map((endName) => renderElement({ ...shape, endName }))
  ),
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true, maxDepth: 5 },
    { arbitrary: text, weight: 4 },
    { arbitrary: comment, weight: 1 },
    { arbitrary: pi, weight: 1 },
    { arbitrary: cdata, weight: 1 },
    { arbitrary: tie("element") as fc.Arbitrary<string>, weight: 4 },
  ),
}));

const declaration = fc.record({
  leading: mostly(fc.constant(""), fc.constantFrom(" ", "\n", "x")),
  open: mostly(fc.constant("<?xml"), fc.constantFrom("<?XML", "<? xml", "<?xml-")),
  version: fc.oneof(
    { weight: 30, arbitrary: fc.constant("1.0") },
    {
      weight: 1,
      arbitrary: fc.constantFrom("1.1", "1.", "1.00", "2.0", "1.0a", "", " 1.0", "1.9"),
    },
  ),
  encoding: fc.option(
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom("UTF-8", "utf-8", "Utf-8") },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "UTF8",
          "latin1",
          "ISO-8859-1",
          "UTF-16",
          "1abc",
          "",
          "-x",
          "u f",
        ),
      },
    ),
  ),
  standalone: fc.option(
    mostly(fc.constantFrom("yes", "no"), fc.constantFrom("YES", "maybe", "")),
  ),
  quotes: fc.array(fc.constantFrom('"', "'"), { minLength: 3, maxLength: 3 }),
  mismatch: mostly(fc.constant(false), fc.constant(true)),
  seps: fc.array(mostly(space, fc.constant("")), { minLength: 3, maxLength: 3 }),
  eq: mostly(fc.constantFrom("=", " = ", "\t=\n"), fc.constantFrom("", "==", ":")),
  swap: mostly(fc.constant(false), fc.constant(true)),
  missingVersion: mostly(fc.constant(false), fc.constant(true)),
  close: mostly(optionalSpace.map((s) => s + "?>"), fc.constantFrom("?", ">", "", "? >", "??>")),
}).map((d) => {
  const pair = (key: string, value: string, i: number) => {
    const q = d.quotes[i];
    const end = d.mismatch && i === 0 ? (q === '"' ? "'" : '"') : q;
    return `${d.seps[i]}${key}${d.eq}${q}${value}${end}`;
  };
  const pairs = [
    d.missingVersion ? "" : pair("version", d.version, 0),
    d.encoding === null ? "" : pair("encoding", d.encoding, 1),
    d.standalone === null ? "" : pair("standalone", d.standalone, 2),
  ];
  if (d.swap) pairs.reverse();
  return `${d.leading}${d.open}${pairs.join("")}${d.close}`;
});

const doctype = fc.constantFrom(
  "<!DOCTYPE a>",
  "<!DOCTYPE x>",
  '<!DOCTYPE a SYSTEM "a.dtd">',
  '<!DOCTYPE a [<!ENTITY e "x">]>',
  "<!DOCTYPE a [<!ATTLIST a b CDATA 'd'>]>",
  "<!doctype a>",
);

const deepNesting = fc.tuple(
  fc.integer({ min: 1, max: 1000 }),
  mostly(fc.constant(-1), fc.nat()),
).map(([depth, drop]) => {
  const ends = Array.from({ length: depth }, (_, i) => i === drop % depth ? "" : "</a>");
  return "<a>".repeat(depth) + "x" + ends.join("");
});

const documentShape = fc.record({
  bom: mostly(fc.constant(""), fc.constant("\uFEFF"), 3),
  declaration: fc.option(declaration, { freq: 2 }),
  before: fc.array(misc, { maxLength: 3 }),
  doctype: mostly(fc.constant(""), doctype, 1),
  after: fc.array(misc, { maxLength: 2 }),
  root: fc.oneof({ arbitrary: element, weight: 30 }, { arbitrary: deepNesting, weight: 1 }),
  epilog: fc.array(misc, { maxLength: 3 }),
  stray: mostly(
    fc.constant<[string, string]>(["", ""]),
    fc.tuple(
      fc.constantFrom("", "x", "&amp;", " ", "<![CDATA[x]]>", "]]>"),
      fc.constantFrom("", "x", "<a/>", "</a>", "<b></b>", "&amp;", "<![CDATA[x]]>", "\u0000"),
    ),
    2,
  ),
}).map((d) =>
  d.bom + (d.declaration ?? "") + d.stray[0] + d.before.join("") + d.doctype +
  d.after.join("") + d.root + d.epilog.join("") + d.stray[1]
);

// Small random edits on top of the generated document.
const TOKENS = [
  "<",
  ">",
  "/",
  "=",
  '"',
  "'",
  "&",
  ";",
  "!",
  "-",
  "?",
  "[",
  "]",
  "a",
  "b",
  "x",
  " ",
  "\t",
  "\n",
  "\r",
  "#",
  "CDATA",
  "xml",
  "x41",
  "amp",
  "--",
  "<!--",
  "-->",
  "<?",
  "?>",
  "<![CDATA[",
  "]]>",
  "</",
  "/>",
  "DOCTYPE",
  "version",
  "1.0",
  "\u00E9",
  "#x",
  "0",
  "\u0300",
];
const token = fc.constantFrom(...TOKENS);

type Mutation = { kind: string; at: number; length: number; token: string };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("insert", "delete", "duplicate", "replace"),
  at: fc.nat(),
  length: fc.integer({ min: 1, max: 6 }),
  token,
});

function mutate(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : m.at % (text.length + 1);
  switch (m.kind) {
    case "insert":
      return text.slice(0, at) + m.token + text.slice(at);
    case "delete":
      return text.slice(0, at) + text.slice(at + m.length);
    case "duplicate":
      return text.slice(0, at + m.length) + text.slice(at);
    default:
      return text.slice(0, at) + m.token + text.slice(at + m.length);
  }
}

const mutatedDocument = fc.tuple(documentShape, fc.array(mutation, { maxLength: 2 }))
  .map(([text, mutations]) => mutations.reduce(mutate, text));

const tokenSoup = fc.tuple(
  fc.array(token, { maxLength: 40 }).map((tokens) => tokens.join("")),
  fc.constantFrom("bare", "element", "start tag", "prolog"),
).map(([soup, frame]) =>
  frame === "bare"
    ? soup
    : frame === "element"
    ? `<a>${soup}</a>`
    : frame === "start tag"
    ? `<a ${soup}/>`
    : `${soup}<a/>`
);

// ---------------------------------------------------------------------------
// Properties 1 and 2: parseXml against saxes

Deno.test("parseXml accepts exactly what a conforming parser accepts, on mutated documents", () => {
  fc.assert(fc.property(mutatedDocument, checkAgreement), runs(0.4));
});

Deno.test("parseXml refuses what saxes wrongly accepts, and only those documents are excused", () => {
  const cases: [text: string, reason: RegExp][] = [
    ["<?pi?x?><a/>", /^expected white space after the processing instruction target/],
    ["<a><?pi??></a>", /^expected white space after the processing instruction target/],
    ['<a b="\uDBFF<"/>', /^character U\+DBFF is not allowed in XML/],
    ["<a>\uD800x</a>", /^character U\+D800 is not allowed in XML/],
  ];
  for (const [text, reason] of cases) {
    assert.deepEqual(reference(text).errors, [], `saxes now refuses ${JSON.stringify(text)}`);
    const verdict = ours(text);
    assert.equal(verdict.ok, false);
    assert.match(verdict.error.message, reason);
    checkAgreement(text);
  }
});

Deno.test("parseXml accepts exactly what a conforming parser accepts, on token soup", () => {
  fc.assert(fc.property(tokenSoup, checkAgreement), runs(0.2));
});

Deno.test("parseXml reports the same element tree as a conforming parser", () => {
  fc.assert(
    fc.property(documentShape, (text) => {
      const verdict = ours(text);
      const ref = reference(text);
      fc.pre(verdict.ok && ref.errors.length === 0);
      if (!verdict.ok || !ref.root) return;
      assert.deepEqual(ourTree(verdict.document.root), refTree(ref.root));
    }),
    runs(0.2),
  );
});

// ---------------------------------------------------------------------------
// Property 3: the rewrite against a reference built from saxes events

const quote = fc.constantFrom('"', "'");
const indent = fc.constantFrom("\n  ", "\n    ", "\r\n\t", "", " ", "\n", "\n\t\t");
const safeName = fc.string({
  unit: fc.constantFrom(..."ABCXYZabcxyz0189_.-"),
  minLength: 1,
  maxLength: 12,
});
// An attribute value written with references now and then.
const valueText = (plain: string): fc.Arbitrary<string> =>
  fc.constantFrom(
    plain,
    plain,
    plain,
    plain.replace(/[a-z]/, (c) => `&#${c.charCodeAt(0)};`),
    plain.replace(/[a-z]/, (c) => `&#x${c.charCodeAt(0).toString(16)};`),
    plain + "&amp;x",
    `&lt;${plain}&gt;`,
  );

interface AttrSpec {
  name: string;
  value: string;
}

const renderAttrs = (attrs: AttrSpec[], q: string, seps: string[]): string =>
  attrs.map((a, i) => `${seps[i % seps.length]}${a.name}=${q}${a.value}${q}`).join("");

const attrSeps = fc.array(fc.constantFrom(" ", " ", " ", "\n      ", "\t", "  "), {
  minLength: 1,
  maxLength: 4,
});

/** An element with the given attributes, rendered with random quotes and spacing. */
function tag(tagName: string, attrs: AttrSpec[], inner?: fc.Arbitrary<string>) {
  return fc.tuple(
    quote,
    attrSeps,
    fc.constantFrom("", " "),
    inner ?? fc.constant(undefined),
  ).map(([q, seps, trail, content]) => {
    const start = `<${tagName}${renderAttrs(attrs, q, seps)}${trail}`;
    return content === undefined ? `${start}/>` : `${start}>${content}</${tagName}>`;
  });
}

const filler = fc.oneof(
  { weight: 8, arbitrary: indent },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "<!-- <source bridge='evil'/> -->",
      "<?pi <source network='evil'/>?>",
      '<![CDATA[<source bridge="evil"/>]]>',
      "&lt;source bridge=&quot;evil&quot;/&gt;",
      "<!--x-->",
      " text ",
    ),
  },
);

const MAC = "56:6f:5e:0a:00:01";
const UUID = "0d8f6a2e-3b44-4b3a-9c1e-6e2b2f0a1c55";

const sourceElement = fc.record({
  bridge: fc.option(fc.constantFrom("ovirtmgmt", "br0", ";vdsmdummy;", "", "br&#45;x", "a&amp;b")),
  network: fc.option(fc.constantFrom("ovirtmgmt", "default", "net&#x2D;1", "")),
  portgroup: fc.option(fc.constantFrom("pg1", "vlan-20", "p&amp;g")),
  portid: fc.option(fc.constant(UUID)),
  extra: fc.option(fc.constantFrom("mode", "dev", "x")),
  order: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
  children: fc.option(fc.constantFrom("", "<!--c-->", "\n  ")),
}).chain((s) => {
  const attrs: [AttrSpec, number][] = [];
  const add = (attrName: string, value: string | null, i: number) => {
    if (value !== null) attrs.push([{ name: attrName, value }, s.order[i]]);
  };
  add("bridge", s.bridge, 0);
  add("network", s.network, 1);
  add("portgroup", s.portgroup, 2);
  add("portid", s.portid, 3);
  add(s.extra ?? "", s.extra === null ? null : "v", 4);
  attrs.sort((a, b) => a[1] - b[1]);
  return tag(
    "source",
    attrs.map(([a]) => a),
    s.children === null ? undefined : fc.constant(s.children),
  );
});

const CHILDREN: Record<string, fc.Arbitrary<string>> = {
  mac: valueText(MAC).chain((v) => tag("mac", [{ name: "address", value: v }])),
  model: tag("model", [{ name: "type", value: "virtio" }]),
  link: tag("link", [{ name: "state", value: "up" }]),
  mtu: tag("mtu", [{ name: "size", value: "1500" }]),
  alias: valueText(`ua-${UUID}`).chain((v) => tag("alias", [{ name: "name", value: v }])),
  address: tag("address", [
    { name: "type", value: "pci" },
    { name: "domain", value: "0x0000" },
    { name: "bus", value: "0x01" },
    { name: "slot", value: "0x00" },
    { name: "function", value: "0x0" },
  ]),
  boot: tag("boot", [{ name: "order", value: "1" }]),
  bandwidth: tag(
    "bandwidth",
    [],
    fc.tuple(indent, indent).map(([a, b]) =>
      `${a}<inbound average='1000' peak='5000'/>${b}<outbound average="1000"/>`
    ),
  ),
  filterref: tag(
    "filterref",
    [{ name: "filter", value: "vdsm-no-mac-spoofing" }],
    fc.option(indent).map((i) =>
      i === null ? "" : `${i}<parameter name='IP' value='10.0.0.1'/>${i}<!-- p -->`
    ),
  ),
  driver: tag("driver", [{ name: "name", value: "vhost" }, { name: "queues", value: "4" }]),
};
// Children that make the rewrite refuse, on purpose.
const REFUSED_CHILDREN: Record<string, fc.Arbitrary<string>> = {
  teaming: tag("teaming", [{ name: "type", value: "transient" }]),
  virtualport: tag("virtualport", [{ name: "type", value: "openvswitch" }]),
  vlan: tag("vlan", [], fc.constant("<tag id='20'/>")),
  source: sourceElement,
};

const vnicDocument = fc.record({
  declaration: fc.option(
    fc.constantFrom('<?xml version="1.0" encoding="UTF-8"?>\n', "<?xml version='1.0'?>"),
  ),
  prolog: fc.array(
    filler.filter((f) => !f.includes("&") && !f.includes("text") && !f.includes("CDATA")),
    {
      maxLength: 2,
    },
  ),
  rootName: mostly(fc.constant("interface"), fc.constant("hostdev"), 1),
  type: mostly(
    fc.constantFrom("bridge", "bridge", "network", "br&#105;dge", "net&#x77;ork"),
    fc.constantFrom("direct", "ethernet", " bridge", "Bridge"),
    1,
  ),
  rootAttrs: fc.subarray(["trustGuestRxFilters", "x"]),
  typeFirst: fc.boolean(),
  rootQuote: quote,
  rootSeps: attrSeps,
  sourceCount: mostly(fc.constant(1), fc.constantFrom(0, 2), 1),
  children: fc.shuffledSubarray(Object.keys(CHILDREN)),
  refused: mostly(
    fc.constant<string[]>([]),
    fc.subarray(Object.keys(REFUSED_CHILDREN), { minLength: 1 }),
    1,
  ),
  order: fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
  fillers: fc.array(filler, { minLength: 20, maxLength: 20 }),
  closingIndent: indent,
  epilog: fc.constantFrom("", "\n", "\n<!-- end -->\n"),
}).chain((d) => {
  const names = [...d.children, ...d.refused];
  const rendered = fc.tuple(
    ...names.map((n) => CHILDREN[n] ?? REFUSED_CHILDREN[n]),
    ...Array.from({ length: d.sourceCount }, () => sourceElement),
  );
  return rendered.map((elements) => {
    const ordered = elements.map((e, i) => [e, d.order[i % d.order.length] + i / 100] as const)
      .sort((a, b) => a[1] - b[1]).map(([e]) => e);
    const rootAttrs: AttrSpec[] = d.rootAttrs.map((a) => ({ name: a, value: "no" }));
    rootAttrs.splice(d.typeFirst ? 0 : rootAttrs.length, 0, { name: "type", value: d.type });
    const body = ordered.map((e, i) => d.fillers[i % d.fillers.length] + e).join("");
    return `${d.declaration ?? ""}${d.prolog.join("")}<${d.rootName}` +
      `${renderAttrs(rootAttrs, d.rootQuote, d.rootSeps)}>${body}${d.closingIndent}` +
      `</${d.rootName}>${d.epilog}`;
  });
});

const target: fc.Arbitrary<Target> = fc.record({ network: safeName, portgroup: safeName }, {
  requiredKeys: ["network"],
});

/** Why the rewrite must refuse this vNIC (per readInterface's rules), or undefined. */
function expectedRefusal(root: RefElement): string | undefined {
  const value = (e: RefElement, n: string) => e.attributes.find(([a]) => a === n)?.[1];
  if (root.name !== "interface") return "not an interface";
  if (!["bridge", "network"].includes(value(root, "type") ?? "")) return "type";
  const sources = root.children.filter((c) => c.name === "source");
  if (sources.length !== 1) return "source count";
  if (root.children.some((c) => c.name === "teaming")) return "teaming";
  if (value(sources[0], "bridge") === undefined && value(sources[0], "network") === undefined) {
    return "source without bridge or network";
  }
  if (root.children.some((c) => c.name === "virtualport" || c.name === "vlan")) {
    return "foreign virtualport or vlan";
  }
  return undefined;
}

const EDITED = ["network", "portgroup", "bridge", "portid"];

/** The source attributes in a comparable form: untouched ones in order, then the edited ones. */
function canonicalSource(attrs: Attr[]): Attr[] {
  const edited = EDITED.flatMap((n) => attrs.filter(([a]) => a === n));
  return [...attrs.filter(([a]) => !EDITED.includes(a)), ...edited];
}

/** The events of the input with the two start tags edited as the rewrite must. */
function expectedEvents(ref: Reference, to: Target): Event[] {
  let depth = 0;
  let sourceSeen = false;
  return ref.events.map((event): Event => {
    if (event[0] === "close") depth--;
    if (event[0] !== "open") return event;
    depth++;
    if (depth === 1) {
      return ["open", event[1], event[2].map(([n, v]): Attr => [n, n === "type" ? "network" : v])];
    }
    if (depth === 2 && event[1] === "source" && !sourceSeen) {
      sourceSeen = true;
      const others = event[2].filter(([n]) => !EDITED.includes(n));
      const edited: Attr[] = [["network", to.network]];
      if (to.portgroup !== undefined) edited.push(["portgroup", to.portgroup]);
      return ["open", "source", [...others, ...edited]];
    }
    return event;
  });
}

function canonicalEvents(ref: Reference): Event[] {
  let depth = 0;
  return ref.events.map((event): Event => {
    if (event[0] === "close") depth--;
    if (event[0] !== "open") return event;
    depth++;
    return depth === 2 && event[1] === "source"
      ? ["open", "source", canonicalSource(event[2])]
      : event;
  });
}

function checkRewrite(text: string, to: Target): void {
  const before = reference(text);
  assert.deepEqual(before.errors, [], "the generator made a document that is not well-formed");
  const refusal = expectedRefusal(before.root!);
  let output: string;
  try {
    output = rewriteInterface(readInterface(text), to);
  } catch (error) {
    if (error instanceof Refusal && refusal !== undefined) return;
    throw error;
  }
  assert.equal(refusal, undefined, `rewrote a vNIC it must refuse (${refusal})`);

  // (a) the output is well-formed, for both parsers.
  const after = reference(output);
  assert.deepEqual(after.errors, [], `the output is not well-formed:\n${output}`);
  assert.equal(ours(output).ok, true);

  // (b)-(d) the tree is the input's, with type="network" and the source pointed at the target.
  const root = after.root!;
  assert.equal(root.name, "interface");
  assert.deepEqual(root.attributes.find(([n]) => n === "type"), ["type", "network"]);
  const sources = root.children.filter((c) => c.name === "source");
  assert.equal(sources.length, 1);
  assert.deepEqual(canonicalEvents(after), expectedEvents(before, to));

  // (e) every byte outside the two edited start tags is unchanged.
  const source = (ref: Reference) => ref.root!.children.find((c) => c.name === "source")!;
  const cut = (s: string, ref: Reference) => [
    s.slice(0, ref.root!.start),
    s.slice(ref.root!.startTagEnd, source(ref).start),
    s.slice(source(ref).startTagEnd),
  ];
  assert.deepEqual(cut(output, after), cut(text, before));

  // (f) rewriting the output again changes nothing.
  assert.equal(rewriteInterface(readInterface(output), to), output);
}

Deno.test("rewriteInterface edits only the interface type and the source, as a DOM would", () => {
  fc.assert(fc.property(vnicDocument, target, checkRewrite), runs(0.2));
});
