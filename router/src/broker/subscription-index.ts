/**
 * Topic → subscriptions, for the three match policies, without scanning patterns:
 * - exact: a Map keyed by topic (one lookup);
 * - prefix: a path-compressed character trie (radix tree); a publish walks the topic once and
 *   collects the subscriptions on the nodes it passes (cost: the topic's length, whatever the
 *   number of prefixes);
 * - wildcard: a path-compressed trie of URI components where a run of components starting with
 *   an empty one (a wildcard) is an edge of its own; a publish follows, node by node, the
 *   concrete edge and the wildcard edge.
 * Both cost memory in proportion to the number of patterns plus their total length (as string
 * slices), not a node and a Map per character or component: one session holding its quota of
 * long patterns cannot exhaust the heap (#14).
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

/** A node of the radix tree: the edge from its parent is labelled with a non-empty string. */
class RadixNode<T> {
  /** Allocated on the first child and dropped with the last (the root always has one). */
  children: Map<number, RadixNode<T>> | undefined;
  value: T | undefined;
  constructor(
    public label: string,
    value: T | undefined,
  ) {
    this.value = value;
  }
}

/**
 * A path-compressed character trie (radix tree): every stored key that is a prefix of a given
 * string, in increasing length. There is a node per stored key and per branching point only, each
 * edge labelled with the string it stands for (a slice of a key), children keyed by the first
 * character of their label. Memory is O(number of keys) nodes plus the label strings; set, get,
 * delete and a walk cost O(key or text length) in string comparisons, whatever the number of keys.
 * Invariant (so that churn leaves nothing behind): every node but the root holds a value or has at
 * least two children, and a node's `children` is undefined when it has none.
 */
export class PrefixTrie<T> {
  readonly #root: RadixNode<T> = PrefixTrie.#rootNode<T>();
  #size = 0;

  static #rootNode<T>(): RadixNode<T> {
    const root = new RadixNode<T>('', undefined);
    root.children = new Map();
    return root;
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): T | undefined {
    let node = this.#root;
    let i = 0;
    while (i < key.length) {
      const next = node.children?.get(key.charCodeAt(i));
      if (next === undefined || !key.startsWith(next.label, i)) return undefined;
      i += next.label.length;
      node = next;
    }
    return node.value;
  }

  set(key: string, value: T): void {
    let node = this.#root;
    let i = 0;
    while (i < key.length) {
      const c = key.charCodeAt(i);
      const next = node.children?.get(c);
      if (next === undefined) {
        addChild(node, c, new RadixNode<T>(key.slice(i), value));
        this.#size++;
        return;
      }
      const label = next.label;
      // The first character matched through the map; find how far the label and the key agree.
      const max = Math.min(label.length, key.length - i);
      let common = 1;
      while (common < max && label.charCodeAt(common) === key.charCodeAt(i + common)) common++;
      if (common < label.length) {
        // Split the edge: a node for the common part, the old child below it.
        const mid = new RadixNode<T>(label.slice(0, common), undefined);
        next.label = label.slice(common);
        addChild(mid, next.label.charCodeAt(0), next);
        node.children!.set(c, mid);
        node = mid;
      } else node = next;
      i += common;
    }
    if (node.value === undefined) this.#size++;
    node.value = value;
  }

  delete(key: string): void {
    const path: RadixNode<T>[] = [this.#root];
    let node = this.#root;
    let i = 0;
    while (i < key.length) {
      const next = node.children?.get(key.charCodeAt(i));
      if (next === undefined || !key.startsWith(next.label, i)) return;
      i += next.label.length;
      path.push((node = next));
    }
    if (node.value === undefined) return;
    node.value = undefined;
    this.#size--;
    if (path.length === 1) return; // the root ('' key) stays
    const parent = path[path.length - 2]!;
    const count = node.children?.size ?? 0;
    if (count === 0) {
      // Remove the leaf; its parent may be left with one child and no value: merge them.
      removeChild(parent, node.label.charCodeAt(0), parent === this.#root);
      if (path.length > 2 && parent.value === undefined && parent.children?.size === 1) mergeWithChild(path[path.length - 3]!, parent);
    } else if (count === 1) mergeWithChild(parent, node);
  }

  /** Calls `visit` for each stored key that is a prefix of `text`, shortest first. */
  forEachPrefixOf(text: string, visit: (value: T, length: number) => void): void {
    let node = this.#root;
    let i = 0;
    for (;;) {
      if (node.value !== undefined) visit(node.value, i);
      if (i === text.length) return;
      const next = node.children?.get(text.charCodeAt(i));
      if (next === undefined) return;
      const label = next.label;
      if (label.length > 1 && !text.startsWith(label, i)) return;
      i += label.length;
      node = next;
    }
  }

  /** The value of the longest stored key that is a prefix of `text`. */
  longestPrefixOf(text: string): T | undefined {
    let best: T | undefined;
    let node = this.#root;
    let i = 0;
    for (;;) {
      if (node.value !== undefined) best = node.value;
      if (i === text.length) return best;
      const next = node.children?.get(text.charCodeAt(i));
      if (next === undefined) return best;
      const label = next.label;
      if (label.length > 1 && !text.startsWith(label, i)) return best;
      i += label.length;
      node = next;
    }
  }
}

function addChild<T>(parent: RadixNode<T>, first: number, child: RadixNode<T>): void {
  (parent.children ??= new Map()).set(first, child);
}

function removeChild<T>(parent: RadixNode<T>, first: number, isRoot: boolean): void {
  const children = parent.children!;
  children.delete(first);
  if (children.size === 0 && !isRoot) parent.children = undefined;
}

/** Replaces `node` (no value, one child) in `parent` by its child, the two labels joined. */
function mergeWithChild<T>(parent: RadixNode<T>, node: RadixNode<T>): void {
  const child = node.children!.values().next().value!;
  child.label = node.label + child.label;
  parent.children!.set(node.label.charCodeAt(0), child);
}

const DOT = 46; // '.'

/**
 * A node of the component radix tree. The edge from its parent is labelled with one or more whole
 * URI components, joined by '.' as in the pattern (`count` of them; an empty component is a
 * wildcard): `key` is the first of them, under which the parent holds it, and `rest` the others
 * (each preceded by its '.'). `plain` says that `rest` has no wildcard, so that it is matched by a
 * single string comparison.
 */
class SegmentNode<T> {
  /** Children whose first label component is concrete; undefined when there are none (but at the root). */
  children: Map<string, SegmentNode<T>> | undefined;
  /** The child whose first label component is empty (the edge keyed by ''). */
  wildcard: SegmentNode<T> | undefined;
  value: T | undefined;
  key = '';
  label = '';
  rest = '';
  count = 0;
  plain = true;
  constructor(label: string, count: number, value: T | undefined) {
    this.relabel(label, count);
    this.value = value;
  }

  relabel(label: string, count: number): void {
    const key = componentAt(label, 0);
    this.key = key;
    this.label = label;
    this.rest = label.slice(key.length);
    this.count = count;
    this.plain = !this.rest.includes('..') && !this.rest.endsWith('.');
  }
}

/** Number of '.'-separated components in `text` from `from` to `to`. */
function componentsIn(text: string, from: number, to: number): number {
  let n = 1;
  for (let i = text.indexOf('.', from); i !== -1 && i < to; i = text.indexOf('.', i + 1)) n++;
  return n;
}

/** The first component of `text` from `from`. */
function componentAt(text: string, from: number): string {
  const end = text.indexOf('.', from);
  return text.slice(from, end === -1 ? text.length : end);
}

function childCount<T>(node: SegmentNode<T>): number {
  return (node.children?.size ?? 0) + (node.wildcard !== undefined ? 1 : 0);
}

function attach<T>(parent: SegmentNode<T>, child: SegmentNode<T>): void {
  if (child.key === '') parent.wildcard = child;
  else (parent.children ??= new Map()).set(child.key, child);
}

/**
 * A path-compressed trie of URI components. A pattern `com..update` matches `com.x.update` (the
 * empty component matches exactly one component); pattern and URI have the same number of
 * components. A node per stored pattern and per branching point; each edge is labelled with a run
 * of whole components (a slice of a pattern), and a node's children are keyed by the first
 * component of their label (the wildcard one apart). A match follows, at each node, the edge keyed
 * by the URI's component and the wildcard edge, comparing the rest of each label with the URI in
 * place ('' matching any component). Memory is O(number of patterns) nodes plus the label strings.
 * Invariant: every node but the root holds a value or has at least two children, and a node's
 * `children` is undefined when it has no concrete child (the root always has a map).
 */
export class WildcardTrie<T> {
  readonly #root: SegmentNode<T> = WildcardTrie.#rootNode<T>();
  #size = 0;

  static #rootNode<T>(): SegmentNode<T> {
    const root = new SegmentNode<T>('', 0, undefined);
    root.children = new Map();
    return root;
  }

  get size(): number {
    return this.#size;
  }

  /** The nodes from the root to the one holding `pattern` (whether or not it has a value), or undefined. */
  #path(pattern: string): SegmentNode<T>[] | undefined {
    const path = [this.#root];
    let node = this.#root;
    // `p` is where the next component starts; p === pattern.length stands for a last, empty one.
    for (let p = 0; ; ) {
      const end = pattern.indexOf('.', p);
      const next = end === p || p === pattern.length ? node.wildcard : node.children?.get(pattern.slice(p, end === -1 ? pattern.length : end));
      if (next === undefined || !pattern.startsWith(next.label, p)) return undefined;
      const after = p + next.label.length;
      path.push((node = next));
      if (after === pattern.length) return path;
      if (pattern.charCodeAt(after) !== DOT) return undefined;
      p = after + 1;
    }
  }

  get(pattern: string): T | undefined {
    const path = this.#path(pattern);
    return path === undefined ? undefined : path[path.length - 1]!.value;
  }

  set(pattern: string, value: T): void {
    let node = this.#root;
    for (let p = 0; ; ) {
      const first = componentAt(pattern, p);
      const next = first === '' ? node.wildcard : node.children?.get(first);
      if (next === undefined) {
        attach(node, new SegmentNode<T>(pattern.slice(p), componentsIn(pattern, p, pattern.length), value));
        this.#size++;
        return;
      }
      // The first component matched through the key; find how far label and pattern agree.
      const label = next.label;
      const max = Math.min(label.length, pattern.length - p);
      let i = first.length;
      while (i < max && label.charCodeAt(i) === pattern.charCodeAt(p + i)) i++;
      const patternAtBoundary = p + i === pattern.length || pattern.charCodeAt(p + i) === DOT;
      if (i === label.length && patternAtBoundary) {
        // The whole label is a run of the pattern's components.
        node = next;
        if (p + i === pattern.length) break;
        p += i + 1;
        continue;
      }
      // Split the label at the last component boundary the two share (after `first` at least).
      const split = label.charCodeAt(i) === DOT && patternAtBoundary ? i : label.lastIndexOf('.', i - 1);
      const mid = new SegmentNode<T>(label.slice(0, split), componentsIn(label, 0, split), undefined);
      next.relabel(label.slice(split + 1), next.count - mid.count);
      attach(mid, next);
      attach(node, mid);
      node = mid;
      if (p + split === pattern.length) break;
      p += split + 1;
    }
    if (node.value === undefined) this.#size++;
    node.value = value;
  }

  delete(pattern: string): void {
    const path = this.#path(pattern);
    if (path === undefined) return;
    const node = path[path.length - 1]!;
    if (node.value === undefined) return;
    node.value = undefined;
    this.#size--;
    const parent = path[path.length - 2]!;
    const count = childCount(node);
    if (count === 0) {
      // Remove the leaf; its parent may be left with one child and no value: merge them.
      if (node.key === '') parent.wildcard = undefined;
      else {
        parent.children!.delete(node.key);
        if (parent.children!.size === 0 && parent !== this.#root) parent.children = undefined;
      }
      if (path.length > 2 && parent.value === undefined && childCount(parent) === 1) this.#merge(path[path.length - 3]!, parent);
    } else if (count === 1) this.#merge(parent, node);
  }

  /** Replaces `node` (no value, one child) in `parent` by its child, the two labels joined. */
  #merge(parent: SegmentNode<T>, node: SegmentNode<T>): void {
    const child = node.wildcard ?? node.children!.values().next().value!;
    child.relabel(`${node.label}.${child.label}`, child.count + node.count);
    attach(parent, child);
  }

  /**
   * Calls `visit` for every pattern matching `uri`, in a fixed order: at each level the concrete
   * component is explored before the wildcard, so the first pattern visited is the most specific
   * (concrete components as far left as possible).
   */
  forEachMatch(uri: string, visit: (value: T) => void): void {
    if (this.#size === 0) return;
    this.#walk(this.#root, uri, 0, visit);
  }

  /** The first match in the order of forEachMatch: the most specific pattern. */
  firstMatch(uri: string): T | undefined {
    if (this.#size === 0) return undefined;
    return this.#first(this.#root, uri, 0);
  }

  // The walks go through `uri` in place: `at` is where its next component starts, uri.length + 1
  // once all are consumed. Only the component looked up in a node's map is sliced out.
  #walk(node: SegmentNode<T>, uri: string, at: number, visit: (value: T) => void): void {
    if (at > uri.length) {
      if (node.value !== undefined) visit(node.value);
      return;
    }
    let end = uri.indexOf('.', at);
    if (end === -1) end = uri.length;
    const children = node.children;
    if (children !== undefined && end > at) {
      const concrete = children.get(uri.slice(at, end));
      if (concrete !== undefined) {
        const next = edgeEnd(concrete, uri, end);
        if (next !== -1) this.#walk(concrete, uri, next, visit);
      }
    }
    const wildcard = node.wildcard;
    if (wildcard !== undefined) {
      const next = edgeEnd(wildcard, uri, end);
      if (next !== -1) this.#walk(wildcard, uri, next, visit);
    }
  }

  #first(node: SegmentNode<T>, uri: string, at: number): T | undefined {
    if (at > uri.length) return node.value;
    let end = uri.indexOf('.', at);
    if (end === -1) end = uri.length;
    const children = node.children;
    if (children !== undefined && end > at) {
      const concrete = children.get(uri.slice(at, end));
      if (concrete !== undefined) {
        const next = edgeEnd(concrete, uri, end);
        const found = next !== -1 ? this.#first(concrete, uri, next) : undefined;
        if (found !== undefined) return found;
      }
    }
    const wildcard = node.wildcard;
    if (wildcard === undefined) return undefined;
    const next = edgeEnd(wildcard, uri, end);
    return next !== -1 ? this.#first(wildcard, uri, next) : undefined;
  }
}

/**
 * Whether a topic is one that `pattern` selects under `match`, by the broker's own rules: exact is
 * equality, prefix a string prefix, wildcard an empty component matching exactly one component.
 * For readers of stored topics (event history) that filter topic names, not subscriptions.
 */
export function topicMatcher(match: MatchPolicy, pattern: string): (topic: string) => boolean {
  if (match === 'exact') return (topic) => topic === pattern;
  if (match === 'prefix') return (topic) => topic.startsWith(pattern);
  const trie = new WildcardTrie<true>();
  trie.set(pattern, true);
  return (topic) => trie.firstMatch(topic) !== undefined;
}

/**
 * Where the URI's next component starts once the label of `edge` is matched against it (its first
 * component already is: the edge was found under the URI's component ending at `end`, or is the
 * wildcard edge), uri.length + 1 at the URI's end; -1 when the label does not match. Compares in
 * place, an empty label component matching any URI component, without allocating.
 */
function edgeEnd<T>(edge: SegmentNode<T>, uri: string, end: number): number {
  if (edge.count === 1) return end + 1;
  const rest = edge.rest; // '.c1.c2…'
  if (edge.plain) {
    const after = end + rest.length;
    return uri.startsWith(rest, end) && (after === uri.length || uri.charCodeAt(after) === DOT) ? after + 1 : -1;
  }
  let u = end; // at a '.' of the URI, or its end
  for (let l = 0; l < rest.length; ) {
    if (u >= uri.length) return -1; // the URI has fewer components
    l++; // past the '.'s
    u++;
    if (l === rest.length || rest.charCodeAt(l) === DOT) {
      const e = uri.indexOf('.', u); // a wildcard matches exactly one component
      u = e === -1 ? uri.length : e;
      continue;
    }
    for (; l < rest.length; l++, u++) {
      const c = rest.charCodeAt(l);
      if (c === DOT) break;
      if (u >= uri.length || uri.charCodeAt(u) !== c) return -1;
    }
    if (u < uri.length && uri.charCodeAt(u) !== DOT) return -1;
  }
  return u + 1;
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
