/**
 * Unit tests of the strict XML scanner (`lib/xml.ts`): what it reports for
 * well-formed documents, and which message each refusal carries.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  attribute,
  MAX_DEPTH,
  MAX_NAME_LENGTH,
  MAX_TEXT_LENGTH,
  parseXml,
  XmlSyntaxError,
} from "../lib/xml.ts";

function refusal(text: string): XmlSyntaxError {
  try {
    parseXml(text);
  } catch (error) {
    assert.ok(error instanceof XmlSyntaxError, `not an XmlSyntaxError: ${error}`);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(text)}`);
}

Deno.test("parseXml reports where each element and attribute is", () => {
  const text = `<interface type="bridge"><source bridge='br0'/>\n</interface>`;
  const { root } = parseXml(text);
  assert.equal(root.name, "interface");
  assert.equal(root.start, 0);
  assert.equal(root.startTagEnd, 25);
  assert.equal(root.end, text.length);
  assert.deepEqual(root.attributes, [
    { name: "type", value: "bridge", start: 11, end: 24, quote: '"' },
  ]);
  const [source] = root.children;
  assert.equal(source.name, "source");
  assert.equal(text.slice(source.start, source.end), "<source bridge='br0'/>");
  assert.equal(
    source.startTagEnd,
    source.end,
    "an empty-element tag ends where its start tag ends",
  );
  assert.deepEqual(source.attributes, [
    { name: "bridge", value: "br0", start: 33, end: 45, quote: "'" },
  ]);
  assert.equal(text.slice(33, 45), "bridge='br0'");
});

Deno.test("parseXml spans an element from its start tag through its end tag", () => {
  const text = "<a><b x = 'y' >text</b ></a>";
  const b = parseXml(text).root.children[0];
  assert.equal(text.slice(b.start, b.startTagEnd), "<b x = 'y' >");
  assert.equal(text.slice(b.start, b.end), "<b x = 'y' >text</b >");
  assert.equal(text.slice(b.attributes[0].start, b.attributes[0].end), "x = 'y'");
});

Deno.test("parseXml captures the quote character of each attribute", () => {
  const { root } = parseXml(`<a b='say "hi"' c="it's"/>`);
  assert.deepEqual(root.attributes.map((a) => [a.name, a.quote, a.value]), [
    ["b", "'", 'say "hi"'],
    ["c", '"', "it's"],
  ]);
});

Deno.test("parseXml normalizes attribute values as a conforming parser does", () => {
  const cases: [raw: string, value: string][] = [
    ["plain", "plain"],
    ["a\tb\nc\rd\r\ne", "a b c d e"],
    ["&#9;&#10;&#13;&#x20;", "\t\n\r "],
    ["&amp;&lt;&gt;&apos;&quot;", `&<>'"`],
    ["&#65;&#x41;&#x10FFFF;&#0000065;", "AA\u{10FFFF}A"],
    ["  two  spaces  ", "  two  spaces  "],
    ["]]> and >", "]]> and >"],
  ];
  for (const [raw, value] of cases) {
    assert.equal(attribute(parseXml(`<a v="${raw}"/>`).root, "v"), value, raw);
  }
});

Deno.test("attribute returns undefined for an attribute the element does not have", () => {
  const { root } = parseXml("<a b='1'/>");
  assert.equal(attribute(root, "b"), "1");
  assert.equal(attribute(root, "c"), undefined);
});

Deno.test("parseXml keeps a byte order mark in the positions", () => {
  assert.equal(parseXml("\uFEFF<?xml version='1.0'?><a/>").root.start, 22);
  assert.equal(parseXml("\uFEFF<a/>").root.start, 1);
});

Deno.test("parseXml reads past an XML declaration or a processing instruction", () => {
  const cases = [
    "<a/>",
    '<?xml version="1.0"?><a/>',
    "<?xml version='1.0' encoding='utf-8' standalone='yes' ?><a/>",
    "<?xml\tversion = '1.0'\r\nencoding = 'UTF-8'?><a/>",
    "<?xml-stylesheet href='a.xsl'?><a/>",
  ];
  for (const text of cases) {
    assert.equal(parseXml(text).root.start, text.indexOf("<a/>"), text);
  }
});

Deno.test("parseXml never takes a comment, CDATA section, PI or attribute value for a tag", () => {
  const text = "<!-- <x/> --><?pi <y/>?><a b='&lt;z/>' c='/>'><![CDATA[<source/>]]>" +
    "<!-- </a> --><?pi </a>?>&lt;w/&gt;<d/></a><!-- <e/> -->";
  const { root } = parseXml(text);
  assert.deepEqual(root.children.map((c) => c.name), ["d"]);
  assert.deepEqual(root.attributes.map((a) => a.value), ["<z/>", "/>"]);
});

Deno.test("parseXml lists child elements in order, without text, comments or PIs", () => {
  const { root } = parseXml("<a>x<b><c/></b><!--y--><d/>z<?p?><e></e></a>");
  assert.deepEqual(root.children.map((c) => c.name), ["b", "d", "e"]);
  assert.deepEqual(root.children[0].children.map((c) => c.name), ["c"]);
});

Deno.test("parseXml accepts names from the whole NameStartChar and NameChar ranges", () => {
  const names = [
    "ns:a",
    "_x",
    "\u00C0\u00B7",
    "\u3001-.9\u0300",
    "\u{10000}\u{EFFFF}",
    "\u200C\u203F",
  ];
  for (const name of names) {
    assert.equal(parseXml(`<${name} ${name}="v"></${name}>`).root.name, name);
  }
});

Deno.test("parseXml accepts nesting up to libxml2's limit, and refuses deeper at once", () => {
  const nest = (depth: number, inner = "") => "<a>".repeat(depth) + inner + "</a>".repeat(depth);
  let element = parseXml(nest(MAX_DEPTH + 1)).root;
  let levels = 1;
  while (element.children.length > 0) [element, levels] = [element.children[0], levels + 1];
  assert.equal(levels, MAX_DEPTH + 1, "xmllint accepts 257 nested elements");
  for (const text of [nest(MAX_DEPTH + 2), nest(MAX_DEPTH + 1, "<b/>"), nest(100_000)]) {
    assert.match(refusal(text).message, /^elements nested more than 256 deep \(libvirt refuses/);
  }
});

Deno.test("parseXml refuses names and text longer than libxml2 accepts", () => {
  const name = "n".repeat(MAX_NAME_LENGTH);
  const text = "x".repeat(MAX_TEXT_LENGTH);
  const accepted = [
    `<${name}/>`,
    `<a ${name}="1"/>`,
    `<a b="${text}"/>`,
    `<a>${text}</a>`,
    `<a>${text}<!--${text}-->${text}</a>`,
    // U+00E9 is 2 UTF-8 bytes: libxml2 counts bytes.
    `<${"\u00e9".repeat(MAX_NAME_LENGTH / 2)}/>`,
  ];
  for (const xml of accepted) parseXml(xml);
  const refused: [string, RegExp][] = [
    [`<${name}n/>`, /^a name longer than 50000 bytes/],
    [`<a ${name}n="1"/>`, /^a name longer than 50000 bytes/],
    [`<a><${"\u00e9".repeat(MAX_NAME_LENGTH / 2)}\u00e9/></a>`, /^a name longer than 50000/],
    [`<a b="${text}x"/>`, /^the value of 'b' longer than 10000000 bytes/],
    [`<a>${text}x</a>`, /^text longer than 10000000 bytes/],
    [`<a>${"\u00e9".repeat(MAX_TEXT_LENGTH / 2)}x</a>`, /^text longer than 10000000 bytes/],
    [`<a><!--${text}x--></a>`, /^a comment longer/],
    [`<a><![CDATA[${text}x]]></a>`, /^a CDATA section longer/],
    [`<a><?pi ${text}x?></a>`, /^a processing instruction longer/],
  ];
  for (const [xml, reason] of refused) assert.match(refusal(xml).message, reason);
  // An echoed name is cut, so that the message stays one short line.
  assert.match(refusal(`<${name}></b>`).message, /^end tag <\/b> does not match <n{64}\.\.\.>/);
});

Deno.test("XmlSyntaxError is a SyntaxError that says where the error is", () => {
  const error = refusal("<a>\n  </b>");
  assert.ok(error instanceof SyntaxError);
  assert.equal(error.name, "XmlSyntaxError");
  assert.equal(error.offset, 6);
  assert.equal(error.line, 2);
  assert.equal(error.column, 3);
  assert.equal(error.message, "end tag </b> does not match <a> at line 2, column 3");
});

Deno.test("parseXml refuses what is not well-formed, or not accepted, with a message saying why", () => {
  const cases: [what: string, text: string, message: RegExp][] = [
    // Deliberate refusals beyond well-formedness.
    ["a DOCTYPE", "<!DOCTYPE a><a/>", /^a DOCTYPE is not accepted/],
    ["an entity declaration", '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', /DOCTYPE/],
    ["XML 1.1", '<?xml version="1.1"?><a/>', /^XML version 1\.1 is not supported; expected 1\.0/],
    ["encoding latin1", "<?xml version='1.0' encoding='latin1'?><a/>", /^encoding latin1 is not/],
    ["encoding UTF-16", "<?xml version='1.0' encoding='UTF-16'?><a/>", /^encoding UTF-16 is not/],
    // The XML declaration.
    ["a version of bad syntax", '<?xml version="1"?><a/>', /^invalid version '1'/],
    ["no version", '<?xml encoding="UTF-8"?><a/>', /^expected 'version' in the XML/],
    ["an encoding of bad syntax", "<?xml version='1.0' encoding='8bit'?><a/>", /invalid encoding/],
    ["standalone=maybe", "<?xml version='1.0' standalone='maybe'?><a/>", /invalid standalone/],
    [
      "pseudo-attributes in the wrong order",
      "<?xml version='1.0' standalone='no' encoding='UTF-8'?><a/>",
      /expected '\?>' to end the XML declaration/,
    ],
    [
      "a declaration not at the start",
      " <?xml version='1.0'?><a/>",
      /only allowed at the very start/,
    ],
    ["a declaration after the root", "<a/><?xml version='1.0'?>", /only allowed at the very start/],
    ["a PI target XML", "<a><?XML x?></a>", /only allowed at the very start/],
    // Characters and references.
    ["U+0000", "<a>\u0000</a>", /^character U\+0000 is not allowed in XML/],
    ["U+001F", "<a b='\u001F'/>", /^character U\+001F is not allowed in XML/],
    ["U+FFFE", "<a>\uFFFE</a>", /^character U\+FFFE is not allowed in XML/],
    ["U+FFFF", "<!--\uFFFF--><a/>", /^character U\+FFFF is not allowed in XML/],
    ["a lone surrogate", "<a>\uD800</a>", /^character U\+D800 is not allowed in XML/],
    ["&#0;", "<a>&#0;</a>", /^character reference to a character not allowed in XML/],
    ["&#xD800;", "<a b='&#xD800;'/>", /^character reference to a character not allowed/],
    ["&#x110000;", "<a>&#x110000;</a>", /^character reference to a character not allowed/],
    ["&#xFFFE;", "<a>&#xFFFE;</a>", /^character reference to a character not allowed/],
    ["an undefined entity", "<a>&nbsp;</a>", /^undefined entity '&nbsp;'/],
    ["an undefined entity in a value", "<a b='&AMP;'/>", /^undefined entity '&AMP;'/],
    ["&#X41; (upper-case X)", "<a>&#X41;</a>", /^malformed entity reference/],
    ["&#;", "<a>&#;</a>", /^malformed entity reference/],
    ["a bare &", "<a>fish & chips</a>", /^'&' that does not start a reference/],
    ["']]>' in text", "<a>x]]>y</a>", /^']]>' in text/],
    // Comments, PIs, CDATA.
    ["'--' in a comment", "<a><!-- a -- b --></a>", /^'--' inside a comment/],
    ["a comment ending in '--->'", "<!-- a ---><a/>", /^'--' inside a comment/],
    ["an unterminated comment", "<a><!-- x</a>", /^unterminated comment/],
    ["a PI without space after the target", "<?pi?x?><a/>", /^expected white space after the/],
    ["a PI without a target", "<a><? x?></a>", /^expected a processing instruction target/],
    ["an unterminated PI", "<a><?pi x</a>", /^unterminated processing instruction/],
    ["an unterminated CDATA section", "<a><![CDATA[x</a>", /^unterminated CDATA section/],
    ["a CDATA section outside the root", "<![CDATA[x]]><a/>", /^expected an element name/],
    [
      "a markup declaration in content",
      "<a><!ELEMENT a ANY></a>",
      /^unexpected markup declaration/,
    ],
    // Tags and attributes.
    ["'<' in a value", "<a b='x<y'/>", /^'<' in the value of 'b'/],
    ["a duplicate attribute", "<a b='1' c='2' b='3'/>", /^duplicate attribute 'b'/],
    ["no space between attributes", "<a b='1'c='2'/>", /^expected white space, '>' or '\/>'/],
    ["an unquoted value", "<a b=1/>", /^expected a quoted value for 'b'/],
    ["a value without '='", "<a b'1'/>", /^expected '=' after attribute 'b'/],
    ["an unterminated value", "<a b='1/>", /^unterminated value of 'b'/],
    ["an unterminated start tag", "<a b='1'", /^unterminated start tag <a>/],
    ["a name starting with a digit", "<1a/>", /^expected an element name/],
    ["a name starting with U+0300", "<\u0300a/>", /^expected an element name/],
    ["a mismatched end tag", "<a><b></a></b>", /^end tag <\/a> does not match <b>/],
    ["'/ >'", "<a/ >", /^expected white space, '>' or '\/>'/],
    ["an unclosed element", "<a><b></b>", /^unclosed element at the end of the document/],
    ["an extra end tag", "<a></a></a>", /^a second root element or markup after the root/],
    // The document as a whole.
    ["two roots", "<a/><b/>", /^a second root element or markup after the root element/],
    ["text before the root", "x<a/>", /^text before the root element/],
    ["text after the root", "<a/>x", /^text after the root element/],
    ["a reference after the root", "<a/>&amp;", /^text after the root element/],
    ["an empty document", "", /^no root element/],
    ["only a comment", "<!-- x -->\n", /^no root element/],
    ["a byte order mark twice", "\uFEFF\uFEFF<a/>", /^text before the root element/],
  ];
  for (const [what, text, message] of cases) {
    const error = refusal(text);
    assert.match(error.message, message, `${what}: ${error.message}`);
  }
});

Deno.test("parseXml accepts what the XML 1.0 productions allow at their edges", () => {
  const cases: string[] = [
    "<a/>",
    " \t\r\n<a/> \t\r\n",
    "<?xml version='1.0'?>\n<a/>",
    '<?xml version="1.0" encoding="utf-8"?><a/>',
    "<?xml version='1.0' standalone='no'?><a/>",
    "<!----><a/>",
    "<!-- - --><a/>",
    "<?pi?><a/>",
    "<?xml-stylesheet?><a/>",
    "<?pi x?y>z?><a/>",
    "<a><![CDATA[]]></a>",
    "<a><![CDATA[]]]]><![CDATA[>]]></a>",
    "<a>]] > ]></a>",
    "<a b='\u{10FFFF}\uFFFD\uE000\uD7FF'>\u0085\u2028</a>",
    "<a></a \r\n>",
    "<a b = 'c' />",
  ];
  for (const text of cases) {
    assert.doesNotThrow(() => parseXml(text), text);
  }
});
