/**
 * A small, strict XML 1.0 parser that keeps the position of every element and
 * attribute, so that callers can edit a document in place without
 * re-serializing it.
 *
 * It accepts only well-formed XML 1.0 without a document type declaration:
 * every document that a conforming parser rejects is rejected here too (the
 * tests check this against a conforming parser). It does not resolve
 * namespaces, and it refuses a DOCTYPE outright, so no entity other than the
 * five predefined ones can ever be referenced. It also refuses what libvirt's
 * parser (libxml2 without `XML_PARSE_HUGE`) refuses for its size: elements
 * nested more than {@linkcode MAX_DEPTH} deep, names longer than
 * {@linkcode MAX_NAME_LENGTH} and text longer than {@linkcode MAX_TEXT_LENGTH}.
 *
 * @module
 */

import { clip } from "./refusal.ts";

/** An attribute of an element, with its decoded value and its place in the text. */
export interface XmlAttribute {
  /** The qualified name, as written. */
  name: string;
  /** The value after reference expansion and attribute-value normalization. */
  value: string;
  /** Index of the first character of the name. */
  start: number;
  /** Index just past the closing quote. */
  end: number;
  /** The quote character the value is written in. */
  quote: '"' | "'";
}

/** An element: its name, attributes, child elements and place in the text. */
export interface XmlElement {
  /** The qualified name, as written. */
  name: string;
  /** The attributes in document order. */
  attributes: XmlAttribute[];
  /** The child elements in document order (text, comments and PIs are not listed). */
  children: XmlElement[];
  /** Index of the `<` that opens the start tag. */
  start: number;
  /** Index just past the `>` that closes the start tag. */
  startTagEnd: number;
  /** Index just past the end tag (equal to `startTagEnd` for an empty-element tag). */
  end: number;
}

/** The result of {@linkcode parseXml}. */
export interface XmlDocument {
  /** The document element. */
  root: XmlElement;
}

/**
 * The text is not a well-formed XML 1.0 document, or uses a feature this parser
 * refuses (a DOCTYPE, an XML version other than 1.0, an encoding other than UTF-8).
 *
 * @example Reporting where the error is
 * ```ts
 * import { parseXml, XmlSyntaxError } from "./xml.ts";
 * try {
 *   parseXml("<a></b>");
 * } catch (error) {
 *   if (error instanceof XmlSyntaxError) console.log(error.line, error.column);
 * }
 * ```
 */
export class XmlSyntaxError extends SyntaxError {
  /** Index in the text where the error was found. */
  offset: number;
  /** 1-based line of `offset`. */
  line: number;
  /** 1-based column of `offset`, in UTF-16 code units. */
  column: number;

  /** Creates the error for `reason` found at `offset` of `text`. */
  constructor(reason: string, text: string, offset: number) {
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - (before.lastIndexOf("\n") + 1) + 1;
    super(`${reason} at line ${line}, column ${column}`);
    this.name = "XmlSyntaxError";
    this.offset = offset;
    this.line = line;
    this.column = column;
  }
}

// XML 1.0 (Fifth Edition) productions [2] Char, [4] NameStartChar, [4a] NameChar.
const NAME_START_CHARS = ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D" +
  "\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF" +
  "\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}";
const NAME_CHARS = NAME_START_CHARS + "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040";
const NAME = new RegExp(`[${NAME_START_CHARS}][${NAME_CHARS}]*`, "uy");
// Compiling the full Unicode classes costs about a millisecond, on every hook run: device XML is
// ASCII, so names and text are checked with ASCII classes first and the full ones only when needed.
const ASCII_NAME = /[:A-Z_a-z][-.0-9:A-Z_a-z]*(?![-.0-9:A-Z_a-z\x80-\uFFFF])/y;
const NOT_PRINTABLE_ASCII = /[^\t\n\r\x20-\x7e]/;
const NOT_A_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const SPACES = /[ \t\r\n]*/y;
const REFERENCE = /&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;]*));/y;
const PREDEFINED_ENTITIES: Record<string, string> = {
  lt: "<",
  gt: ">",
  amp: "&",
  apos: "'",
  quot: '"',
};
const DECLARATION = /<\?xml[ \t\r\n]/y;

/**
 * libxml2's `xmlParserMaxDepth`: an element may have at most this many ancestors.
 *
 * @example
 * ```ts
 * import { MAX_DEPTH, parseXml } from "./xml.ts";
 * parseXml("<a>".repeat(MAX_DEPTH + 1) + "</a>".repeat(MAX_DEPTH + 1)); // accepted
 * ```
 */
export const MAX_DEPTH = 256;
/**
 * libxml2's `XML_MAX_NAME_LENGTH`, in UTF-8 bytes: the longest element or attribute name.
 *
 * @example
 * ```ts
 * import { MAX_NAME_LENGTH, parseXml } from "./xml.ts";
 * parseXml(`<${"a".repeat(MAX_NAME_LENGTH)}/>`); // accepted
 * ```
 */
export const MAX_NAME_LENGTH = 50_000;
/**
 * libxml2's `XML_MAX_TEXT_LENGTH`, in UTF-8 bytes: the longest text, attribute value,
 * comment, CDATA section or processing instruction (counted as written, before references
 * are expanded, so never less than libxml2 counts).
 *
 * @example
 * ```ts
 * import { MAX_TEXT_LENGTH } from "./xml.ts";
 * MAX_TEXT_LENGTH; // 10000000
 * ```
 */
export const MAX_TEXT_LENGTH = 10_000_000;

// Whether `text` is longer than `max` UTF-8 bytes; encodes only when it may be.
function longerThan(text: string, max: number): boolean {
  if (text.length > max) return true;
  return text.length * 3 > max && new TextEncoder().encode(text).length > max;
}
const VERSION = /^1\.[0-9]+$/;
const ENCODING_NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;

/**
 * Parses `text` as a well-formed XML 1.0 document.
 *
 * A leading byte order mark (U+FEFF) is allowed. Throws {@linkcode XmlSyntaxError}
 * for anything that is not well-formed, and for a DOCTYPE, an XML version other
 * than 1.0 or a declared encoding other than UTF-8.
 *
 * @example Finding an element's attributes and where its start tag is
 * ```ts
 * import { parseXml } from "./xml.ts";
 * const { root } = parseXml('<interface type="bridge"><source bridge="br0"/></interface>');
 * root.name; // "interface"
 * root.children[0].attributes[0].value; // "br0"
 * root.startTagEnd; // 25
 * ```
 */
export function parseXml(text: string): XmlDocument {
  return new Parser(text).document();
}

/**
 * Returns the text of an element without child elements, as written (no
 * reference expansion), from the document `text` it was parsed from.
 *
 * @example
 * ```ts
 * import { parseXml, textOf } from "./xml.ts";
 * const text = "<network><name>ovs-net</name></network>";
 * textOf(text, parseXml(text).root.children[0]); // "ovs-net"
 * ```
 */
export function textOf(text: string, element: XmlElement): string {
  if (element.end === element.startTagEnd) return "";
  // The end tag starts before `end`; another end tag may start right at it.
  return text.slice(element.startTagEnd, text.lastIndexOf("</", element.end - 1));
}

/**
 * Returns the value of the attribute `name` of `element`, or `undefined`.
 *
 * @example
 * ```ts
 * import { attribute, parseXml } from "./xml.ts";
 * const { root } = parseXml("<source bridge='ovirtmgmt'/>");
 * attribute(root, "bridge"); // "ovirtmgmt"
 * attribute(root, "network"); // undefined
 * ```
 */
export function attribute(element: XmlElement, name: string): string | undefined {
  return element.attributes.find((a) => a.name === name)?.value;
}

// The XML Name at `pos` of `text`, if one starts there.
function matchName(text: string, pos: number): string | undefined {
  ASCII_NAME.lastIndex = NAME.lastIndex = pos;
  return (ASCII_NAME.exec(text) ?? NAME.exec(text))?.[0];
}

// A cursor over the text; the only class here, because the parser's state is a position.
class Parser {
  #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  document(): XmlDocument {
    const text = this.#text;
    const bad = NOT_PRINTABLE_ASCII.test(text) ? NOT_A_CHAR.exec(text) : null;
    if (bad) {
      const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
      this.#fail(`character U+${code} is not allowed in XML`, bad.index);
    }
    if (text.startsWith("\uFEFF")) this.#pos = 1;
    DECLARATION.lastIndex = this.#pos;
    if (DECLARATION.test(text)) this.#declaration();
    this.#misc();
    if (text.startsWith("<!DOCTYPE", this.#pos)) {
      this.#fail("a DOCTYPE is not accepted (no DTDs or entity declarations)");
    }
    if (this.#pos >= text.length || text[this.#pos] !== "<") {
      this.#fail(this.#pos >= text.length ? "no root element" : "text before the root element");
    }
    const root = this.#element();
    this.#misc();
    if (this.#pos < text.length) {
      this.#fail(
        text[this.#pos] === "<"
          ? "a second root element or markup after the root element"
          : "text after the root element",
      );
    }
    return { root };
  }

  #fail(reason: string, offset = this.#pos): never {
    throw new XmlSyntaxError(reason, this.#text, offset);
  }

  #spaces(): number {
    SPACES.lastIndex = this.#pos;
    SPACES.test(this.#text);
    const count = SPACES.lastIndex - this.#pos;
    this.#pos = SPACES.lastIndex;
    return count;
  }

  #name(what: string): string {
    const name = matchName(this.#text, this.#pos);
    if (name === undefined) this.#fail(`expected ${what}`);
    if (longerThan(name, MAX_NAME_LENGTH)) {
      this.#fail(`a name longer than ${MAX_NAME_LENGTH} bytes (libvirt refuses it)`);
    }
    this.#pos += name.length;
    return name;
  }

  #expect(literal: string, what = `'${literal}'`): void {
    if (!this.#text.startsWith(literal, this.#pos)) this.#fail(`expected ${what}`);
    this.#pos += literal.length;
  }

  // [23] XMLDecl, with this parser's limits on version and encoding.
  #declaration(): void {
    this.#pos += "<?xml".length;
    const pseudo = (name: string, required: boolean): string | undefined => {
      const start = this.#pos;
      if (this.#spaces() === 0 || !this.#text.startsWith(name, this.#pos)) {
        this.#pos = start;
        if (required) this.#fail(`expected '${name}' in the XML declaration`);
        return undefined;
      }
      this.#pos += name.length;
      this.#spaces();
      this.#expect("=");
      this.#spaces();
      const quote = this.#text[this.#pos];
      if (quote !== '"' && quote !== "'") this.#fail("expected a quoted value");
      const end = this.#text.indexOf(quote, this.#pos + 1);
      if (end < 0) this.#fail("unterminated value in the XML declaration");
      const value = this.#text.slice(this.#pos + 1, end);
      const valueStart = this.#pos + 1;
      this.#pos = end + 1;
      const syntax = name === "version"
        ? VERSION
        : name === "encoding"
        ? ENCODING_NAME
        : /^(?:yes|no)$/;
      if (!syntax.test(value)) this.#fail(`invalid ${name} '${clip(value)}'`, valueStart);
      return value;
    };
    const version = pseudo("version", true);
    if (version !== "1.0") {
      this.#fail(`XML version ${clip(version ?? "")} is not supported; expected 1.0`);
    }
    const encoding = pseudo("encoding", false);
    if (encoding !== undefined && encoding.toUpperCase() !== "UTF-8") {
      this.#fail(`encoding ${clip(encoding)} is not supported; expected UTF-8`);
    }
    pseudo("standalone", false);
    this.#spaces();
    this.#expect("?>", "'?>' to end the XML declaration");
  }

  // [27] Misc*: comments, processing instructions and white space around the root.
  #misc(): void {
    for (;;) {
      this.#spaces();
      if (this.#text.startsWith("<!--", this.#pos)) this.#comment();
      else if (this.#text.startsWith("<?", this.#pos)) this.#processingInstruction();
      else return;
    }
  }

  // [15] Comment
  #comment(): void {
    const start = this.#pos;
    const end = this.#text.indexOf("--", start + 4);
    if (end < 0) this.#fail("unterminated comment", start);
    if (this.#text[end + 2] !== ">") this.#fail("'--' inside a comment", end);
    this.#limitText("a comment", start + 4, end);
    this.#pos = end + 3;
  }

  // Fails when the text from `start` to `end` is longer than libxml2 accepts.
  #limitText(what: string, start: number, end: number): void {
    if (
      end - start > MAX_TEXT_LENGTH / 3 && longerThan(this.#text.slice(start, end), MAX_TEXT_LENGTH)
    ) {
      this.#fail(`${what} longer than ${MAX_TEXT_LENGTH} bytes (libvirt refuses it)`, start);
    }
  }

  // [16] PI
  #processingInstruction(): void {
    const start = this.#pos;
    this.#pos += 2;
    const target = this.#name("a processing instruction target");
    if (target.toLowerCase() === "xml") {
      this.#fail("an XML declaration is only allowed at the very start", start);
    }
    const end = this.#text.indexOf("?>", this.#pos);
    if (end < 0) this.#fail("unterminated processing instruction", start);
    if (end > this.#pos && this.#spaces() === 0) {
      this.#fail("expected white space after the processing instruction target");
    }
    this.#limitText("a processing instruction", this.#pos, end);
    this.#pos = end + 2;
  }

  // [39] element, without recursion so that deep nesting cannot overflow the stack.
  #element(): XmlElement {
    const stack: XmlElement[] = [];
    let root: XmlElement | undefined;
    for (;;) {
      const element = this.#startTag();
      stack.at(-1)?.children.push(element);
      root ??= element;
      if (stack.length > MAX_DEPTH) {
        this.#fail(
          `elements nested more than ${MAX_DEPTH} deep (libvirt refuses them)`,
          element.start,
        );
      }
      if (element.end < 0) stack.push(element);
      while (stack.length > 0) {
        const parent = stack.at(-1)!;
        if (this.#content()) break; // a child element starts here
        const closeStart = this.#pos;
        this.#pos += 2;
        const name = this.#name("an element name in the end tag");
        if (name !== parent.name) {
          this.#fail(`end tag </${clip(name)}> does not match <${clip(parent.name)}>`, closeStart);
        }
        this.#spaces();
        this.#expect(">", "'>' to close the end tag");
        parent.end = this.#pos;
        stack.pop();
      }
      if (stack.length === 0) return root;
    }
  }

  // [40] STag or [44] EmptyElemTag. An open element gets end -1 until its end tag.
  #startTag(): XmlElement {
    const start = this.#pos;
    this.#pos += 1;
    const name = this.#name("an element name");
    const attributes: XmlAttribute[] = [];
    const names = new Set<string>();
    for (;;) {
      const spaced = this.#spaces() > 0;
      const char = this.#text[this.#pos];
      if (char === ">" || (char === "/" && this.#text[this.#pos + 1] === ">")) {
        this.#pos += char === ">" ? 1 : 2;
        const end = char === ">" ? -1 : this.#pos;
        return { name, attributes, children: [], start, startTagEnd: this.#pos, end };
      }
      if (char === undefined) this.#fail(`unterminated start tag <${clip(name)}>`, start);
      if (!spaced) this.#fail("expected white space, '>' or '/>' in the start tag");
      const attr = this.#attribute();
      if (names.has(attr.name)) this.#fail(`duplicate attribute '${clip(attr.name)}'`, attr.start);
      names.add(attr.name);
      attributes.push(attr);
    }
  }

  // [41] Attribute, with [10] AttValue normalized as for CDATA (there is no DTD).
  #attribute(): XmlAttribute {
    const start = this.#pos;
    const name = this.#name("an attribute name");
    this.#spaces();
    this.#expect("=", `'=' after attribute '${clip(name)}'`);
    this.#spaces();
    const quote = this.#text[this.#pos];
    if (quote !== '"' && quote !== "'") this.#fail(`expected a quoted value for '${clip(name)}'`);
    const valueStart = this.#pos + 1;
    const valueEnd = this.#text.indexOf(quote, valueStart);
    if (valueEnd < 0) this.#fail(`unterminated value of '${clip(name)}'`, valueStart);
    this.#limitText(`the value of '${clip(name)}'`, valueStart, valueEnd);
    const raw = this.#text.slice(valueStart, valueEnd);
    const lt = raw.indexOf("<");
    if (lt >= 0) this.#fail(`'<' in the value of '${clip(name)}'`, valueStart + lt);
    const value = this.#expand(raw.replace(/\r\n?/g, "\n").replace(/[\t\n\r]/g, " "), valueStart);
    this.#pos = valueEnd + 1;
    return { name, value, start, end: this.#pos, quote };
  }

  // Expands references in `raw` (found at `offset`), failing on any that is not defined.
  #expand(raw: string, offset: number): string {
    if (!raw.includes("&")) return raw;
    let out = "";
    let from = 0;
    for (let amp = raw.indexOf("&"); amp >= 0; amp = raw.indexOf("&", from)) {
      out += raw.slice(from, amp);
      out += this.#reference(raw, amp, offset);
      from = REFERENCE.lastIndex;
    }
    return out + raw.slice(from);
  }

  // [67] Reference at `at` in `raw`; leaves REFERENCE.lastIndex just past it.
  #reference(raw: string, at: number, offset: number): string {
    REFERENCE.lastIndex = at;
    const match = REFERENCE.exec(raw);
    if (!match) this.#fail("'&' that does not start a reference", offset + at);
    const [, decimal, hex, entity] = match;
    if (entity !== undefined) {
      if (matchName(entity, 0) !== entity) this.#fail("malformed entity reference", offset + at);
      const value = PREDEFINED_ENTITIES[entity];
      if (value === undefined) this.#fail(`undefined entity '&${clip(entity)};'`, offset + at);
      return value;
    }
    const code = decimal !== undefined ? parseInt(decimal, 10) : parseInt(hex, 16);
    const char = code <= 0x10FFFF ? String.fromCodePoint(code) : "";
    if (char === "" || NOT_A_CHAR.test(char)) {
      this.#fail("character reference to a character not allowed in XML", offset + at);
    }
    return char;
  }

  // [43] content up to the next child start tag (returns true) or end tag (returns false).
  #content(): boolean {
    const text = this.#text;
    for (;;) {
      const lt = text.indexOf("<", this.#pos);
      if (lt < 0) this.#fail("unclosed element at the end of the document");
      this.#characterData(lt);
      this.#pos = lt;
      if (text.startsWith("</", lt)) return false;
      if (text.startsWith("<!--", lt)) this.#comment();
      else if (text.startsWith("<![CDATA[", lt)) {
        const end = text.indexOf("]]>", lt + 9);
        if (end < 0) this.#fail("unterminated CDATA section", lt);
        this.#limitText("a CDATA section", lt + 9, end);
        this.#pos = end + 3;
      } else if (text.startsWith("<?", lt)) this.#processingInstruction();
      else if (text.startsWith("<!", lt)) this.#fail("unexpected markup declaration", lt);
      else return true;
    }
  }

  // [14] CharData from the cursor up to `end`: no ']]>', and only defined references.
  #characterData(end: number): void {
    this.#limitText("text", this.#pos, end);
    const data = this.#text.slice(this.#pos, end);
    const cdataEnd = data.indexOf("]]>");
    if (cdataEnd >= 0) this.#fail("']]>' in text", this.#pos + cdataEnd);
    this.#expand(data, this.#pos);
  }
}
