/**
 * Topic → subscriptions, for the three match policies, without scanning patterns:
 * - exact: a Map keyed by topic (one lookup);
 * - prefix: a character trie; a publish walks the topic once and collects the subscriptions on
 *   the nodes it passes (cost: the topic's length, whatever the number of prefixes);
 * - wildcard: a trie of URI components where an empty pattern component is an edge of its own;
 *   a publish follows, level by level, the concrete edge and the wildcard edge.
 */
import type { MatchPolicy, SubscriptionId } from '@switchboard/schemas';

export interface Subscription<S> {
  readonly id: SubscriptionId;
  readonly topic: string;
  readonly match: MatchPolicy;
  /** Milliseconds since the epoch. */
  readonly created: number;
  readonly subscribers: Set<S>;
  /** Kept by the router (e.g. for event history): stays when its last subscriber leaves. */
  persistent: boolean;
}

const NONE: readonly never[] = [];

class CharNode<T> {
  readonly children = new Map<number, CharNode<T>>();
  value: T | undefined;
}

/** A character trie: every stored key that is a prefix of a given string, in increasing length. */
export class PrefixTrie<T> {
  readonly #root = new CharNode<T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string): T | undefined {
    let node: CharNode<T> | undefined = this.#root;
    for (let i = 0; i < key.length && node !== undefined; i++) node = node.children.get(key.charCodeAt(i));
    return node?.value;
  }

  set(key: string, value: T): void {
    let node = this.#root;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      let next = node.children.get(c);
      if (next === undefined) node.children.set(c, (next = new CharNode<T>()));
      node = next;
    }
    if (node.value === undefined) this.#size++;
    node.value = value;
  }

  delete(key: string): void {
    const path: CharNode<T>[] = [this.#root];
    let node: CharNode<T> | undefined = this.#root;
    for (let i = 0; i < key.length && node !== undefined; i++) {
      node = node.children.get(key.charCodeAt(i));
      if (node !== undefined) path.push(node);
    }
    if (node === undefined || node.value === undefined || path.length !== key.length + 1) return;
    node.value = undefined;
    this.#size--;
    // Prune empty branches so a churn of patterns does not leave dead nodes behind.
    for (let i = key.length; i > 0; i--) {
      const n = path[i]!;
      if (n.value !== undefined || n.children.size > 0) break;
      path[i - 1]!.children.delete(key.charCodeAt(i - 1));
    }
  }

  /** Calls `visit` for each stored key that is a prefix of `text`, shortest first. */
  forEachPrefixOf(text: string, visit: (value: T, length: number) => void): void {
    let node: CharNode<T> | undefined = this.#root;
    for (let i = 0; ; i++) {
      if (node.value !== undefined) visit(node.value, i);
      if (i === text.length) return;
      node = node.children.get(text.charCodeAt(i));
      if (node === undefined) return;
    }
  }

  /** The value of the longest stored key that is a prefix of `text`. */
  longestPrefixOf(text: string): T | undefined {
    let best: T | undefined;
    let node: CharNode<T> | undefined = this.#root;
    for (let i = 0; ; i++) {
      if (node.value !== undefined) best = node.value;
      if (i === text.length) return best;
      node = node.children.get(text.charCodeAt(i));
      if (node === undefined) return best;
    }
  }
}

class ComponentNode<T> {
  readonly children = new Map<string, ComponentNode<T>>();
  wildcard: ComponentNode<T> | undefined;
  value: T | undefined;
}

/**
 * A trie of URI components. A pattern `com..update` matches `com.x.update` (the empty component
 * matches exactly one component); pattern and URI have the same number of components.
 */
export class WildcardTrie<T> {
  readonly #root = new ComponentNode<T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(pattern: string): T | undefined {
    let node: ComponentNode<T> | undefined = this.#root;
    for (const part of pattern.split('.')) {
      if (node === undefined) return undefined;
      node = part === '' ? node.wildcard : node.children.get(part);
    }
    return node?.value;
  }

  set(pattern: string, value: T): void {
    let node = this.#root;
    for (const part of pattern.split('.')) {
      let next: ComponentNode<T> | undefined = part === '' ? node.wildcard : node.children.get(part);
      if (next === undefined) {
        next = new ComponentNode<T>();
        if (part === '') node.wildcard = next;
        else node.children.set(part, next);
      }
      node = next;
    }
    if (node.value === undefined) this.#size++;
    node.value = value;
  }

  delete(pattern: string): void {
    const parts = pattern.split('.');
    const path: ComponentNode<T>[] = [this.#root];
    let node: ComponentNode<T> | undefined = this.#root;
    for (const part of parts) {
      node = part === '' ? node.wildcard : node.children.get(part);
      if (node === undefined) return;
      path.push(node);
    }
    if (node.value === undefined) return;
    node.value = undefined;
    this.#size--;
    for (let i = parts.length; i > 0; i--) {
      const n = path[i]!;
      if (n.value !== undefined || n.children.size > 0 || n.wildcard !== undefined) break;
      const parent = path[i - 1]!;
      const part = parts[i - 1]!;
      if (part === '') parent.wildcard = undefined;
      else parent.children.delete(part);
    }
  }

  /**
   * Calls `visit` for every pattern matching `uri`, in a fixed order: at each level the concrete
   * component is explored before the wildcard, so the first pattern visited is the most specific
   * (concrete components as far left as possible).
   */
  forEachMatch(uri: string, visit: (value: T) => void): void {
    if (this.#size === 0) return;
    this.#walk(this.#root, uri.split('.'), 0, visit);
  }

  /** The first match in the order of forEachMatch: the most specific pattern. */
  firstMatch(uri: string): T | undefined {
    if (this.#size === 0) return undefined;
    return this.#first(this.#root, uri.split('.'), 0);
  }

  #walk(node: ComponentNode<T>, parts: string[], depth: number, visit: (value: T) => void): void {
    if (depth === parts.length) {
      if (node.value !== undefined) visit(node.value);
      return;
    }
    const concrete = node.children.get(parts[depth]!);
    if (concrete !== undefined) this.#walk(concrete, parts, depth + 1, visit);
    if (node.wildcard !== undefined) this.#walk(node.wildcard, parts, depth + 1, visit);
  }

  #first(node: ComponentNode<T>, parts: string[], depth: number): T | undefined {
    if (depth === parts.length) return node.value;
    const concrete = node.children.get(parts[depth]!);
    const found = concrete !== undefined ? this.#first(concrete, parts, depth + 1) : undefined;
    if (found !== undefined) return found;
    return node.wildcard !== undefined ? this.#first(node.wildcard, parts, depth + 1) : undefined;
  }
}

export class SubscriptionIndex<S> {
  readonly #exact = new Map<string, Subscription<S>>();
  // One-element arrays cached per exact subscription so an exact-only publish allocates nothing.
  readonly #exactList = new Map<string, readonly Subscription<S>[]>();
  readonly #prefix = new PrefixTrie<Subscription<S>>();
  readonly #wildcard = new WildcardTrie<Subscription<S>>();

  get(topic: string, match: MatchPolicy): Subscription<S> | undefined {
    switch (match) {
      case 'exact':
        return this.#exact.get(topic);
      case 'prefix':
        return this.#prefix.get(topic);
      case 'wildcard':
        return this.#wildcard.get(topic);
    }
  }

  add(subscription: Subscription<S>): void {
    switch (subscription.match) {
      case 'exact':
        this.#exact.set(subscription.topic, subscription);
        this.#exactList.set(subscription.topic, [subscription]);
        return;
      case 'prefix':
        return this.#prefix.set(subscription.topic, subscription);
      case 'wildcard':
        return this.#wildcard.set(subscription.topic, subscription);
    }
  }

  remove(subscription: Subscription<S>): void {
    switch (subscription.match) {
      case 'exact':
        if (this.#exact.get(subscription.topic) === subscription) {
          this.#exact.delete(subscription.topic);
          this.#exactList.delete(subscription.topic);
        }
        return;
      case 'prefix':
        if (this.#prefix.get(subscription.topic) === subscription) this.#prefix.delete(subscription.topic);
        return;
      case 'wildcard':
        if (this.#wildcard.get(subscription.topic) === subscription) this.#wildcard.delete(subscription.topic);
        return;
    }
  }

  /** Every subscription whose pattern matches `topic`: exact first, then prefixes (shortest first), then wildcards. */
  match(topic: string): readonly Subscription<S>[] {
    const exact = this.#exactList.get(topic);
    if (this.#prefix.size === 0 && this.#wildcard.size === 0) return exact ?? NONE;
    const found: Subscription<S>[] = exact !== undefined ? [...exact] : [];
    this.#prefix.forEachPrefixOf(topic, (s) => found.push(s));
    this.#wildcard.forEachMatch(topic, (s) => found.push(s));
    return found;
  }

  /** Whether any subscription matches `topic` (for producing meta events only when wanted). */
  hasMatch(topic: string): boolean {
    if (this.#exact.has(topic)) return true;
    if (this.#prefix.size === 0 && this.#wildcard.size === 0) return false;
    return this.match(topic).length > 0;
  }
}
