/**
 * Secrets from the environment, Crossbar's way: a string value that is exactly `$NAME` or
 * `${NAME}` is replaced by that environment variable before the config is validated, so files can
 * be committed without tickets, secrets or key paths in them. Only whole values are replaced:
 * `"prefix-$NAME"` stays as written. Names are Crossbar's: capitals, digits and `_`, so a secret
 * such as `"$ecret"` is never mistaken for a variable.
 */

const VARIABLE = /^\$(?:([A-Z_][A-Z0-9_]*)|\{([A-Z_][A-Z0-9_]*)\})$/;

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Substituted {
  /** The input with every variable that is set replaced (a copy where anything changed). */
  value: unknown;
  /** One line per variable that is not set: the JSON pointer where it is used, and its name. */
  problems: string[];
}

/** The variable a string names, or undefined when it is an ordinary string. */
export function variableName(text: string): string | undefined {
  const match = VARIABLE.exec(text);
  return match === null ? undefined : (match[1] ?? match[2]);
}

/** Replaces `$NAME` / `${NAME}` string values from `env`; reports every unset variable at once. */
export function substituteEnv(value: unknown, env: Environment = process.env): Substituted {
  const problems: string[] = [];
  const walk = (node: unknown, pointer: string): unknown => {
    if (typeof node === 'string') {
      const name = variableName(node);
      if (name === undefined) return node;
      const replacement = env[name];
      if (replacement === undefined) {
        problems.push(`${pointer === '' ? '(top level)' : pointer}: environment variable ${name} is not set`);
        return node;
      }
      return replacement;
    }
    if (Array.isArray(node)) {
      let copy: unknown[] | undefined;
      node.forEach((item: unknown, i) => {
        const next = walk(item, `${pointer}/${i}`);
        if (next !== item) (copy ??= [...node])[i] = next;
      });
      return copy ?? node;
    }
    if (typeof node === 'object' && node !== null) {
      let copy: Record<string, unknown> | undefined;
      for (const [key, item] of Object.entries(node)) {
        const next = walk(item, `${pointer}/${escapePointer(key)}`);
        // defineProperty: a key named __proto__ (JSON.parse makes it an own key) stays a key.
        if (next !== item)
          Object.defineProperty((copy ??= { ...(node as Record<string, unknown>) }), key, {
            value: next,
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      return copy ?? node;
    }
    return node;
  };
  return { value: walk(value, ''), problems };
}

/** RFC 6901: `~` and `/` in a key are written `~0` and `~1`. */
export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
