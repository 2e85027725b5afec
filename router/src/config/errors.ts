/**
 * Config problems in words a newcomer can act on. Two sources: a JSON syntax error (where it is —
 * line, column, the line itself and a caret — and what is probably wrong, not V8's "position 55"),
 * and ajv's schema errors (one line per problem: the JSON pointer of the field, then what is wrong
 * with it; an unknown field with the known field it was probably meant to be; a pattern as the
 * words of the schema's `patternDescription`, not as a regex; one line for a value that fits none
 * of a field's `anyOf`/`oneOf` alternatives, from the most relevant alternative).
 */
import type { ErrorObject } from 'ajv';

/**
 * The schema keyword that says in words what a `pattern` allows, next to the pattern (or inside a
 * `propertyNames`). An annotation only: ajv is told of it so that strict mode accepts it.
 */
export const PATTERN_DESCRIPTION = 'patternDescription';

// ---------------------------------------------------------------------------------------------
// JSON syntax

/** Longest excerpt of the offending line shown; longer lines are cut around the column. */
const EXCERPT = 100;

/**
 * The first syntax error of `text` as `line L, column C: what is wrong` followed by the line and a
 * caret under column C; undefined when `text` is valid JSON. A scan with an explicit stack, so a
 * deeply nested file costs memory in proportion to its size, never the call stack.
 */
export function jsonSyntaxProblem(text: string): string | undefined {
  const found = findSyntaxError(text);
  if (found === undefined) return undefined;
  const { line, column, lineText } = position(text, found.offset);
  return `line ${line}, column ${column}: ${found.message}\n${excerpt(lineText, line, column)}`;
}

interface SyntaxFault {
  offset: number;
  message: string;
}

interface Open {
  char: '{' | '[';
  offset: number;
}

/** What the scanner expects next. */
type Expect = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'comma-or-close' | 'end';

function findSyntaxError(text: string): SyntaxFault | undefined {
  const stack: Open[] = [];
  let expect: Expect = 'value';
  let i = 0;
  /** Offset of the last comma, for "a trailing comma" hints. */
  let lastComma = -1;
  const afterValue = (): Expect => (stack.length === 0 ? 'end' : 'comma-or-close');
  for (;;) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
    if (i >= text.length) {
      if (expect === 'end') return undefined;
      const open = stack.at(-1);
      if (open === undefined)
        return { offset: i, message: text.trim() === '' ? 'the file is empty (an empty config is {})' : 'the file ends where a value belongs' };
      const { line, column } = position(text, open.offset);
      return {
        offset: i,
        message: `the file ends before the '${open.char}' opened at line ${line}, column ${column} is closed with '${open.char === '{' ? '}' : ']'}'`,
      };
    }
    const c = text[i]!;
    const at = i;
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) return { offset: at, message: 'comments are not allowed in JSON: remove it' };
    if (expect === 'end') return { offset: at, message: `unexpected ${describe(text, at)} after the end of the JSON value (one top-level object per file)` };
    if (expect === 'colon') {
      if (c !== ':') return { offset: at, message: `expected ':' after the field name, found ${describe(text, at)}` };
      i++;
      expect = 'value';
      continue;
    }
    if (expect === 'comma-or-close') {
      const open = stack.at(-1)!;
      const close = open.char === '{' ? '}' : ']';
      if (c === ',') {
        lastComma = at;
        i++;
        expect = open.char === '{' ? 'key' : 'value';
        continue;
      }
      if (c === close) {
        stack.pop();
        i++;
        expect = afterValue();
        continue;
      }
      if (c === '}' || c === ']')
        return { offset: at, message: `'${c}' closes nothing here: the '${open.char}' at ${where(text, open.offset)} is closed with '${close}'` };
      return { offset: at, message: `missing ',' before ${describe(text, at)} (or a missing '${close}' before it)` };
    }
    if (c === '}' || c === ']') {
      const open = stack.at(-1);
      const closes = open !== undefined && c === (open.char === '{' ? '}' : ']');
      if (closes && (expect === 'key-or-close' || expect === 'value-or-close')) {
        stack.pop();
        i++;
        expect = afterValue();
        continue;
      }
      // Point at the comma itself: that is what to remove.
      if (closes && lastComma >= 0)
        return { offset: lastComma, message: `a trailing comma: JSON allows none before the '${c}' at ${where(text, at)}, remove it` };
      return { offset: at, message: `unexpected '${c}' where ${expect === 'key' || expect === 'key-or-close' ? 'a field name' : 'a value'} belongs` };
    }
    if (expect === 'key' || expect === 'key-or-close') {
      if (c === '"') {
        const end = scanString(text, at);
        if (typeof end !== 'number') return end;
        i = end;
        expect = 'colon';
        continue;
      }
      if (c === "'") return { offset: at, message: 'field names take double quotes in JSON ("name"), not single quotes' };
      if (/[A-Za-z_$]/.test(c)) return { offset: at, message: `field names take double quotes in JSON: "${word(text, at)}"` };
      return { offset: at, message: `expected a field name in double quotes, found ${describe(text, at)}` };
    }
    // expect is 'value' or 'value-or-close'
    if (c === '{' || c === '[') {
      stack.push({ char: c, offset: at });
      i++;
      expect = c === '{' ? 'key-or-close' : 'value-or-close';
      continue;
    }
    if (c === '"') {
      const end = scanString(text, at);
      if (typeof end !== 'number') return end;
      i = end;
      expect = afterValue();
      continue;
    }
    if (c === "'") return { offset: at, message: 'strings take double quotes in JSON ("text"), not single quotes' };
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
      if (m === null) return { offset: at, message: `not a number: ${describe(text, at)}` };
      i = at + m[0].length;
      if (i < text.length && /[\w.]/.test(text[i]!))
        return { offset: at, message: `not a JSON number: '${word(text, at)}' (decimal digits, no leading zeros, hex or trailing '.')` };
      expect = afterValue();
      continue;
    }
    const w = word(text, at);
    if (w === 'true' || w === 'false' || w === 'null') {
      i = at + w.length;
      expect = afterValue();
      continue;
    }
    if (w.length > 0)
      return { offset: at, message: `unknown word '${w}': a value is a string in double quotes, a number, true, false, null, an object or an array` };
    return { offset: at, message: `unexpected ${describe(text, at)} where a value belongs` };
  }
}

/** The offset just past the string starting at `start` (a '"'), or what is wrong with it. */
function scanString(text: string, start: number): number | SyntaxFault {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const e = text[i + 1];
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return { offset: i, message: 'a \\u escape takes four hex digits' };
        i += 6;
        continue;
      }
      if (e === undefined || !'"\\/bfnrt'.includes(e)) return { offset: i, message: `unknown escape '\\${e ?? ''}' in a string (a backslash is written \\\\)` };
      i += 2;
      continue;
    }
    if (c === 0x0a || c === 0x0d) return { offset: start, message: "this string is not closed on its line (a missing '\"'?)" };
    if (c < 0x20) return { offset: i, message: 'a control character (a tab?) inside a string: write it as an escape (\\t)' };
    i++;
  }
  return { offset: start, message: "this string is never closed (a missing '\"')" };
}

/** The letters and digits starting at `at` (at most 40). */
function word(text: string, at: number): string {
  return /^[\w$.+-]{0,40}/.exec(text.slice(at, at + 40))?.[0] ?? '';
}

/** The character at `at` in words, for a message. */
function describe(text: string, at: number): string {
  const c = text[at]!;
  if (c === '"') return 'a string';
  if (c === '{') return "'{'";
  if (c === '[') return "'['";
  const w = word(text, at);
  return w.length > 0 ? `'${w}'` : `'${c}'`;
}

function where(text: string, offset: number): string {
  const { line, column } = position(text, offset);
  return `line ${line}, column ${column}`;
}

/** 1-based line and column of an offset, and the text of its line. */
function position(text: string, offset: number): { line: number; column: number; lineText: string } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  const end = text.indexOf('\n', start);
  const lineText = text.slice(start, end === -1 ? text.length : end).replace(/\r$/, '');
  return { line, column: offset - start + 1, lineText };
}

/** The line, indented under the problem's bullet, and a caret under `column` (tabs kept, so it lines up). */
function excerpt(lineText: string, line: number, column: number): string {
  let from = 0;
  if (lineText.length > EXCERPT) from = Math.max(0, Math.min(column - 1 - EXCERPT / 2, lineText.length - EXCERPT));
  const shown = lineText.slice(from, from + EXCERPT);
  const pad = shown.slice(0, column - 1 - from).replace(/[^\t]/g, ' ');
  const gutter = String(line);
  return `    ${gutter} | ${from > 0 ? '…' : ''}${shown}\n    ${' '.repeat(gutter.length)} | ${from > 0 ? ' ' : ''}${pad}^`;
}

// ---------------------------------------------------------------------------------------------
// Schema errors

/**
 * ajv's errors (compiled with `allErrors` and `verbose`, so each error carries its schema) as one
 * line each, without repeats; alternatives collapsed to their most relevant one.
 */
export function schemaProblems(errors: readonly ErrorObject[]): string[] {
  const lines = collapseAlternatives(errors)
    .map(explain)
    .filter((p): p is string => p !== undefined);
  return [...new Set(lines)];
}

/**
 * An `anyOf`/`oneOf` that failed comes with the errors of every alternative: "must be of type
 * string", "must be of type array", "must match exactly one schema in oneOf". Those become the
 * errors of the most relevant alternative alone (the one the value got furthest in: fewest errors
 * about its type or shape at the alternative's own field), or, when every alternative failed on the
 * value's type alone, one line naming the types allowed.
 *
 * Linear in the errors (times the depth of their paths): each error is handed once to the innermost
 * alternative around it (same schema path prefix, and the same value or one inside it), and an
 * alternative, settled innermost first, hands its result to the one around it.
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  const isAlternative = (e: ErrorObject): boolean => e.keyword === 'anyOf' || e.keyword === 'oneOf';
  const key = (schemaPath: string, instancePath: string): string => `${schemaPath}\u0000${instancePath}`;
  const alternatives = new Map<string, ErrorObject>();
  for (const e of errors) if (isAlternative(e) && !alternatives.has(key(e.schemaPath, e.instancePath))) alternatives.set(key(e.schemaPath, e.instancePath), e);
  // The innermost alternative around `e` (not `e` itself, nor one at the same schema path).
  const around = (e: ErrorObject): ErrorObject | undefined => {
    const segments = e.schemaPath.split('/');
    const values = [e.instancePath];
    for (let at = e.instancePath.lastIndexOf('/'); at >= 0; at = e.instancePath.lastIndexOf('/', at - 1)) {
      values.push(e.instancePath.slice(0, at));
      if (at === 0) break;
    }
    for (let i = segments.length - 2; i >= 0; i--) {
      if (segments[i] !== 'anyOf' && segments[i] !== 'oneOf') continue;
      const schemaPath = segments.slice(0, i + 1).join('/');
      for (const value of values) {
        const found = alternatives.get(key(schemaPath, value));
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  // Each error keeps its place in the list (a replacement takes its alternative's place).
  const order = new Map<ErrorObject, number>();
  for (const [i, e] of errors.entries()) order.set(e, i);
  const inside = new Map<ErrorObject, ErrorObject[]>();
  const out: ErrorObject[] = [];
  const place = (e: ErrorObject, parent: ErrorObject | undefined): void => {
    if (parent === undefined) {
      out.push(e);
      return;
    }
    const list = inside.get(parent);
    if (list === undefined) inside.set(parent, [e]);
    else list.push(e);
  };
  for (const e of errors) {
    if (isAlternative(e)) continue;
    place(e, around(e));
  }
  // Innermost first: an alternative inside an alternative is settled before its parent looks at it.
  const settled = [...alternatives.values()].sort((a, b) => b.schemaPath.length - a.schemaPath.length || b.instancePath.length - a.instancePath.length);
  for (const alt of settled) {
    const parent = around(alt);
    const inner = inside.get(alt) ?? [];
    const rank = order.get(alt) ?? 0;
    // oneOf that matched more than one alternative: no inner errors, its own message is the problem.
    if (inner.length === 0 && alt.keyword === 'oneOf') {
      place(alt, parent);
      continue;
    }
    const prefix = `${alt.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of inner) {
      const rest = e.schemaPath.startsWith(prefix) ? e.schemaPath.slice(prefix.length) : '';
      const branch = rest.split('/', 1)[0]!;
      const list = branches.get(branch);
      if (list === undefined) branches.set(branch, [e]);
      else list.push(e);
    }
    const shapeErrors = (list: ErrorObject[]): number =>
      list.filter((e) => e.instancePath === alt.instancePath && (e.keyword === 'type' || e.keyword === 'const' || e.keyword === 'enum')).length;
    const ranked = [...branches.values()]
      .map((list) => ({ list, shape: shapeErrors(list) }))
      .sort((a, b) => a.shape - b.shape || a.list.length - b.list.length)
      .map((r) => r.list);
    let replacement: ErrorObject[];
    const allTypes = ranked.length > 0 && ranked.every((list) => list.every((e) => e.instancePath === alt.instancePath && e.keyword === 'type'));
    if (allTypes) {
      const types = [...new Set(ranked.flatMap((list) => list.map((e) => String((e.params as Record<string, unknown>)['type']))))];
      replacement = [{ ...alt, keyword: 'type', params: { type: types.join(',') } }];
    } else if (ranked.length > 0 && ranked.every((list) => list.every((e) => e.instancePath === alt.instancePath && e.keyword === 'required'))) {
      // `anyOf: [{required: [a]}, {required: [b]}]`: one of several fields is needed.
      const fields = ranked.flatMap((list) => list.map((e) => String((e.params as Record<string, unknown>)['missingProperty'])));
      replacement = [{ ...alt, keyword: 'required', params: { missingProperty: [...new Set(fields)] } }];
    } else {
      replacement = ranked[0] ?? [alt];
    }
    for (const e of replacement) {
      if (!order.has(e)) order.set(e, rank);
      place(e, parent);
    }
  }
  return out.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value quoted for a message, cut when long. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.length > 60 ? `${text.slice(0, 57)}…` : text}'`;
}

/** The property names an object schema knows (`properties`), for suggestions. */
function knownFields(schema: unknown): string[] {
  return isRecord(schema) && isRecord(schema['properties']) ? Object.keys(schema['properties']) : [];
}

/**
 * "unknown field 'realm': did you mean 'realms'?" when a known field is a few edits away, else the
 * fields allowed there.
 */
function unknownField(at: string, name: string, known: readonly string[]): string {
  const near = closest(name, known);
  if (near !== undefined) return `${at}: unknown field '${name}': did you mean '${near}'?`;
  const listed = known.filter((k) => k !== '$schema');
  return listed.length > 0 && listed.length <= 12 ? `${at}: unknown field '${name}' (allowed here: ${listed.join(', ')})` : `${at}: unknown field '${name}'`;
}

/**
 * The candidate nearest `word` (Damerau–Levenshtein, case-insensitive), when near enough to be a
 * typo: at most 1 edit for short names, a third of the name's length for longer ones.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(w.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(w, candidate.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3 || a.length > 64 || b.length > 64) return Infinity;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The words a schema gives its pattern, when it gives any. */
function patternWords(schema: unknown): string | undefined {
  return isRecord(schema) && typeof schema[PATTERN_DESCRIPTION] === 'string' ? schema[PATTERN_DESCRIPTION] : undefined;
}

/**
 * One line per ajv error: the JSON pointer of the field, then what is wrong with it in plain words.
 * undefined for an error that only repeats others (a failed `if`/`then`: the `then` errors say why).
 */
function explain(error: ErrorObject): string | undefined {
  if (error.keyword === 'if') return undefined;
  // A field a variant does not have (e.g. `url` with `"type": "static"`): the inner error names it.
  if (error.keyword === 'propertyNames') return undefined;
  const at = error.instancePath === '' ? '(top level)' : error.instancePath;
  const p = error.params as Record<string, unknown>;
  if (error.propertyName !== undefined) {
    if (error.keyword === 'pattern') {
      const words = patternWords(error.parentSchema);
      return `${at}: ${quote(error.propertyName)} ${words ?? `is not allowed as a name here (it must match ${String(p['pattern'])})`}`;
    }
    if (error.keyword !== 'enum') return `${at}: field name '${error.propertyName}' ${error.message ?? 'is invalid'}`;
    return unknownField(at, error.propertyName, (p['allowedValues'] as unknown[]).map(String));
  }
  switch (error.keyword) {
    case 'additionalProperties':
      return unknownField(at, String(p['additionalProperty']), knownFields(error.parentSchema));
    case 'required': {
      const missing = p['missingProperty'];
      if (Array.isArray(missing)) return `${at}: needs ${missing.map((m) => `'${String(m)}'`).join(' or ')}`;
      return `${at}: missing required field '${String(missing)}'`;
    }
    case 'dependencies':
      return `${at}: '${String(p['property'])}' needs '${String(p['missingProperty'])}' beside it`;
    case 'enum': {
      const allowed = p['allowedValues'] as unknown[];
      const near =
        typeof error.data === 'string'
          ? closest(
              error.data,
              allowed.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      return `${at}: must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}${near !== undefined ? `: did you mean ${JSON.stringify(near)}?` : ''}`;
    }
    case 'const':
      return `${at}: must be ${JSON.stringify(p['allowedValue'])}`;
    case 'type':
      return `${at}: must be of type ${String(p['type']).split(',').join(' or ')}`;
    case 'pattern': {
      const words = patternWords(error.parentSchema);
      return words !== undefined ? `${at}: ${quote(error.data)} ${words}` : `${at}: ${quote(error.data)} must match the pattern ${String(p['pattern'])}`;
    }
    default:
      return `${at}: ${error.message ?? 'is invalid'}`;
  }
}
