/**
 * The configuration reference (docs/configuration-reference.md), generated from the JSON Schema
 * the router validates every config with (schemas/schema/router-config.schema.json), so the page
 * cannot say something the loader does not do. One section per object in the config, one table
 * row per field: type and bounds, default, and the schema's own description. `npm run docs:config`
 * writes it; test/docs.test.ts fails when the committed page differs from what this renders.
 */

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const cell = (text) =>
  String(text)
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
/** Prose from the schema: no HTML (`<path>` is text) and no emphasis (`*.example.com`). */
const prose = (text) =>
  cell(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([*_`])/g, '\\$1');
const code = (text) => `\`${text}\``;

/**
 * Renders the reference page from a parsed JSON Schema (draft-07, as ajv reads it).
 * `source` is the schema's path as the page names it.
 */
export function renderConfigReference(schema, source) {
  /** A local `$ref` (`#/definitions/tls`, `#/definitions/x/properties/y`) to the node it names. */
  const pointer = (ref) => {
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
    let node = schema;
    for (const part of ref.slice(2).split('/')) {
      node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      if (node === undefined) throw new Error(`unknown $ref ${ref}`);
    }
    return node;
  };
  const resolve = (node) => {
    let n = node;
    const seen = new Set();
    while (n !== null && typeof n === 'object' && typeof n.$ref === 'string') {
      if (seen.has(n.$ref)) throw new Error(`circular $ref ${n.$ref}`);
      seen.add(n.$ref);
      const target = pointer(n.$ref);
      const { $ref: _ref, ...rest } = n;
      n = { ...target, ...rest };
    }
    return n;
  };

  /** The `if` of a variant: { key, value } when it tests one field against a constant. */
  const discriminator = (condition) => {
    const props = condition?.properties ?? {};
    const keys = Object.keys(props);
    if (keys.length !== 1 || props[keys[0]]?.const === undefined) return undefined;
    return { key: keys[0], value: props[keys[0]].const };
  };

  /** An object's fields, in order; a variant's `then` adds or narrows fields (`true` keeps the base). */
  const fieldsOf = (node, variant) => {
    const fields = new Map();
    const add = (props) => {
      for (const [name, sub] of Object.entries(props ?? {})) {
        if (sub === true) {
          if (!fields.has(name)) fields.set(name, {});
        } else fields.set(name, resolve(sub));
      }
    };
    add(node.properties);
    for (const part of node.allOf ?? []) if (part.if === undefined) add(resolve(part).properties);
    if (variant !== undefined) {
      const then = resolve(variant.then);
      add(then.properties);
      for (const part of then.allOf ?? []) if (part.if === undefined) add(resolve(part).properties);
      fields.set(variant.key, { const: variant.value });
    }
    // propertyNames `enum` lists what a variant allows: drop base fields it does not.
    const allowed = variant !== undefined ? resolve(variant.then).propertyNames?.enum : node.propertyNames?.enum;
    if (Array.isArray(allowed)) for (const name of [...fields.keys()]) if (!allowed.includes(name)) fields.delete(name);
    return fields;
  };

  const variantsOf = (node) =>
    (node.allOf ?? [])
      .filter((part) => part.if !== undefined && part.then !== undefined)
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema if/then, not a thenable
      .map((part) => ({ ...discriminator(part.if), then: part.then }))
      .filter((v) => v.key !== undefined);

  const requiredOf = (node, variant) => {
    const required = new Set(node.required ?? []);
    if (variant !== undefined) for (const name of resolve(variant.then).required ?? []) required.add(name);
    return required;
  };

  const isObjectNode = (node) => node.type === 'object' || node.properties !== undefined || (node.allOf ?? []).some((p) => p.if !== undefined);
  const isMap = (node) => node.additionalProperties !== undefined && typeof node.additionalProperties === 'object';

  const sections = [];
  const headingOf = (path, variant) => (variant === undefined ? path : `${path} with ${variant.key} "${variant.value}"`);

  const bounds = (node) => {
    const out = [];
    if (node.minimum !== undefined && node.maximum !== undefined) out.push(`${node.minimum}–${node.maximum}`);
    else if (node.minimum !== undefined) out.push(`≥ ${node.minimum}`);
    else if (node.maximum !== undefined) out.push(`≤ ${node.maximum}`);
    if (node.minLength !== undefined && node.minLength > 1) out.push(`at least ${node.minLength} characters`);
    if (node.minLength === 1) out.push('not empty');
    if (node.pattern !== undefined) out.push(`matching ${code(node.pattern)}`);
    if (node.minItems !== undefined) out.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
    if (node.uniqueItems === true) out.push('no duplicates');
    return out;
  };

  /** An object type with a link to its section (one link per variant). */
  const objectLink = (node, path) => {
    const variants = variantsOf(node);
    if (variants.length === 0) return `object ([${path}](#${slug(path)}))`;
    return `object: ${variants.map((v) => `[${v.key} ${JSON.stringify(v.value)}](#${slug(headingOf(path, v))})`).join(', ')}`;
  };

  /** The type column: a type, its bounds, and a link to the section an object is described in. */
  const typeOf = (raw, path) => {
    const node = resolve(raw);
    if (node.const !== undefined) return code(JSON.stringify(node.const));
    if (node.enum !== undefined) return node.enum.map((v) => code(JSON.stringify(v))).join(', ');
    for (const key of ['oneOf', 'anyOf']) {
      if (Array.isArray(node[key]) && node.type === undefined && !isObjectNode(node)) {
        return node[key].map((alt, i) => typeOf(alt, `${path}#${i}`)).join(', or ');
      }
    }
    if (node.type === 'array' || node.items !== undefined) {
      const items = resolve(node.items ?? {});
      const inner = isObjectNode(items) ? objectLink(items, `${path}[]`) : typeOf(items, `${path}[]`);
      return [`list of ${inner}`, ...bounds(node)].join(', ');
    }
    if (isMap(node)) {
      const value = resolve(node.additionalProperties);
      const key = node.propertyNames?.pattern !== undefined ? `names matching ${code(node.propertyNames.pattern)}` : 'any name';
      const inner = isObjectNode(value) ? objectLink(value, `${path}.*`) : typeOf(value, `${path}.*`);
      return `map, ${key}, of ${inner}`;
    }
    if (isObjectNode(node)) return objectLink(node, path);
    if (node.type === undefined) return 'any';
    return [Array.isArray(node.type) ? node.type.join(' or ') : node.type, ...bounds(node)].join(', ');
  };

  /** Queues the sections for an object (and, depth first, the objects inside it). */
  const visit = (raw, path) => {
    const node = resolve(raw);
    if (node.type === 'array' || node.items !== undefined) {
      const items = resolve(node.items ?? {});
      if (isObjectNode(items)) visit(items, `${path}[]`);
      return;
    }
    if (isMap(node)) {
      const value = resolve(node.additionalProperties);
      if (isObjectNode(value)) visit(value, `${path}.*`);
      return;
    }
    for (const key of ['oneOf', 'anyOf']) {
      for (const [i, alt] of (Array.isArray(node[key]) && !isObjectNode(node) ? node[key] : []).entries()) visit(alt, `${path}#${i}`);
    }
    if (!isObjectNode(node)) return;
    const variants = variantsOf(node);
    for (const variant of variants.length > 0 ? variants : [undefined]) {
      const fields = fieldsOf(node, variant);
      const required = requiredOf(node, variant);
      const section = { heading: headingOf(path, variant), description: node.description, rows: [], notes: [] };
      const thenNode = variant === undefined ? undefined : resolve(variant.then);
      const dependencies = { ...(node.dependencies ?? {}), ...(thenNode?.dependencies ?? {}) };
      for (const [name, deps] of Object.entries(dependencies)) {
        if (Array.isArray(deps)) section.notes.push(`${code(name)} needs ${deps.map(code).join(' and ')}.`);
      }
      for (const alternatives of [node.anyOf, thenNode?.anyOf]) {
        if (Array.isArray(alternatives) && alternatives.every((a) => Array.isArray(a.required))) {
          section.notes.push(`Needs at least one of ${alternatives.map((a) => a.required.map(code).join(' and ')).join(', ')}.`);
        }
      }
      if (thenNode?.description !== undefined && thenNode.description !== node.description) section.variantDescription = thenNode.description;
      const children = [];
      for (const [name, sub] of fields) {
        // A field that differs between variants (a bridge path's `options`) is named with its variant.
        const differs =
          variant !== undefined &&
          variants.some((v) => {
            const other = fieldsOf(node, v).get(name);
            return other !== undefined && JSON.stringify(other) !== JSON.stringify(sub);
          });
        const qualified = differs ? `${path.replace(/\[\]$/, '')}[${variant.key}=${variant.value}]` : path;
        const childPath = qualified === '' ? name : `${qualified}.${name}`;
        section.rows.push({
          name: required.has(name) ? `${code(name)} (required)` : code(name),
          type: typeOf(sub, childPath),
          default: sub.default === undefined ? '' : code(JSON.stringify(sub.default)),
          description: prose(sub.description ?? ''),
        });
        children.push([sub, childPath]);
      }
      // The same object reached twice (a listener's `auth` under both listener types) is described once.
      const same = sections.find((s) => s.heading === section.heading);
      if (same !== undefined) {
        if (JSON.stringify(same) !== JSON.stringify(section)) throw new Error(`two different objects at ${section.heading}`);
      } else sections.push(section);
      for (const [sub, childPath] of children) visit(sub, childPath);
    }
  };

  visit(schema, '');

  const lines = [
    '# Configuration reference',
    '',
    `<!-- Generated by \`npm run docs:config\` from ${source}: do not edit by hand. -->`,
    '',
    `Every key of the router's JSON config file, generated from [\`router-config.schema.json\`](../${source}),`,
    'the schema `switchboard check` and `switchboard start` validate a file with. Every key is optional',
    'unless marked required; an empty file (`{}`) is a valid config. How to use them together:',
    '[the configuration guide](configuration.md).',
    '',
    '`listeners[]` means each item of the `listeners` list; `auth.ticket.principals.*` each value of',
    'the `principals` map, whatever its name.',
    '',
    '## Contents',
    '',
  ];
  const titled = sections.map((s) => ({ ...s, title: s.heading === '' ? 'Top level' : s.heading }));
  for (const s of titled) lines.push(`- [${s.title.replace(/([*_])/g, '\\$1')}](#${slug(s.title)})`);
  for (const s of titled) {
    lines.push('', `## ${s.title.replace(/([*_])/g, '\\$1')}`, '');
    if (s.description !== undefined) lines.push(prose(s.description), '');
    if (s.variantDescription !== undefined) lines.push(prose(s.variantDescription), '');
    for (const note of s.notes) lines.push(note, '');
    lines.push('| key | type | default | description |', '| --- | --- | --- | --- |');
    for (const row of s.rows) lines.push(`| ${row.name} | ${cell(row.type)} | ${cell(row.default)} | ${row.description} |`);
  }
  return `${lines.join('\n')}\n`;
}
