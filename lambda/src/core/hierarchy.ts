/**
 * "It's a dog": summing a classifier's class probabilities up a class hierarchy (for ImageNet, the
 * WordNet hypernym tree in models/imagenet-hierarchy.json, made by tools/imagenet-hierarchy) and
 * naming the most specific concept the probabilities agree on.
 *
 * Pure: the caller reads the data file and passes it in.
 */

/** The hierarchy data file (models/imagenet-hierarchy.json). Nodes are named by WordNet ids. */
export interface HierarchyData {
  /** What the file is and how it was made. */
  readonly $comment?: string;
  readonly source?: string;
  readonly license?: string;
  /** The one node without a parent. */
  readonly root: string;
  /** Nodes never reported as a summary (too generic to say what a photo shows). */
  readonly generic: readonly string[];
  /** Every node's short name ('dog'). */
  readonly names: Readonly<Record<string, string>>;
  /** Every node's parent, except the root's. */
  readonly parents: Readonly<Record<string, string>>;
}

/** A hierarchy checked and indexed for one model's classes, by {@link compileHierarchy}. */
export interface CompiledHierarchy {
  /** Per node (index = node id): its wnid, name, parent node id (-1 for the root), depth (root 0). */
  readonly nodes: readonly HierarchyNode[];
  /** Per class index: its ancestors' node ids, nearest first, without the class's own node. */
  readonly ancestors: readonly (readonly number[])[];
}

export interface HierarchyNode {
  readonly wnid: string;
  readonly name: string;
  readonly parent: number;
  readonly depth: number;
  readonly generic: boolean;
}

/** What the probabilities agree on: the deepest non-generic ancestor with enough summed probability. */
export interface Summary {
  /** The node's short name ('dog'). */
  label: string;
  wnid: string;
  /** The summed probability of the classes under it (raw: the caller rounds). */
  probability: number;
  /** Names from the highest non-generic node on its chain down to the node itself. */
  path: string[];
}

/**
 * Sums compare with the threshold with this tolerance, so that classes whose probabilities add up
 * to the threshold on paper (0.3 + 0.25 + 0.2 against 0.75) pass despite floating-point rounding.
 */
const TOLERANCE = 1e-9;

const isRecordOfStrings = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v as Record<string, unknown>).every((s) => typeof s === 'string');

function malformed(message: string): Error {
  return new Error(`Malformed hierarchy data: ${message}`);
}

/**
 * Checks hierarchy data and indexes it for a model's classes, once per model.
 *
 * A class whose wnid is not in the data gets no ancestors (it never adds to a summary). Throws an
 * Error naming the problem when the data is malformed: a missing or mistyped field, a parent or
 * generic node without a name, a node other than the root without a parent, a cycle.
 *
 * @example
 * const compiled = compileHierarchy(
 *   {
 *     root: 'n0',
 *     generic: ['n0'],
 *     names: { n0: 'entity', n1: 'dog', n2: 'malamute', n3: 'husky' },
 *     parents: { n1: 'n0', n2: 'n1', n3: 'n1' },
 *   },
 *   ['n2', 'n3'],
 * );
 * compiled.ancestors; // [[1, 0], [1, 0]]: dog, then entity, for both classes
 */
export function compileHierarchy(data: HierarchyData, classWnids: readonly string[]): CompiledHierarchy {
  const value: unknown = data;
  if (typeof value !== 'object' || value === null) throw malformed('not an object');
  const raw = value as Record<string, unknown>;
  if (typeof raw.root !== 'string') throw malformed('"root" is not a string');
  if (!isRecordOfStrings(raw.names)) throw malformed('"names" is not an object of strings');
  if (!isRecordOfStrings(raw.parents)) throw malformed('"parents" is not an object of strings');
  if (!Array.isArray(raw.generic) || !raw.generic.every((g) => typeof g === 'string')) {
    throw malformed('"generic" is not an array of strings');
  }
  const { root, names, parents, generic } = data;
  const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

  const ids = new Map<string, number>();
  const wnids = Object.keys(names);
  wnids.forEach((wnid, i) => {
    if ((names[wnid] as string).trim() === '') throw malformed(`${wnid} has an empty name`);
    ids.set(wnid, i);
  });
  if (!ids.has(root)) throw malformed(`the root ${root} has no name`);
  if (has(parents, root)) throw malformed(`the root ${root} has a parent`);
  for (const [child, parent] of Object.entries(parents)) {
    if (!ids.has(child)) throw malformed(`${child} has a parent but no name`);
    if (!ids.has(parent)) throw malformed(`${parent} (the parent of ${child}) has no name`);
  }
  for (const wnid of wnids) {
    if (wnid !== root && !has(parents, wnid)) throw malformed(`${wnid} has no parent and is not the root`);
  }
  const genericSet = new Set(generic);
  for (const g of genericSet) if (!ids.has(g)) throw malformed(`the generic node ${g} has no name`);

  // Depths, following each chain to the root once; a chain longer than the node count loops.
  const depth = new Int32Array(wnids.length).fill(-1);
  depth[ids.get(root) as number] = 0;
  for (const start of wnids) {
    const chain: string[] = [];
    let node = start;
    while (depth[ids.get(node) as number] === -1) {
      chain.push(node);
      if (chain.length > wnids.length) throw malformed(`the parents of ${start} form a cycle`);
      node = parents[node] as string;
    }
    let d = depth[ids.get(node) as number] as number;
    for (let i = chain.length - 1; i >= 0; i--) depth[ids.get(chain[i] as string) as number] = ++d;
  }

  const nodes: HierarchyNode[] = wnids.map((wnid, i) => ({
    wnid,
    name: names[wnid] as string,
    parent: wnid === root ? -1 : (ids.get(parents[wnid] as string) as number),
    depth: depth[i] as number,
    generic: genericSet.has(wnid),
  }));
  const ancestors = classWnids.map((wnid) => {
    const up: number[] = [];
    const own = ids.get(wnid);
    if (own === undefined) return up;
    for (let n = (nodes[own] as HierarchyNode).parent; n !== -1; n = (nodes[n] as HierarchyNode).parent)
      up.push(n);
    return up;
  });
  return { nodes, ancestors };
}

/**
 * Sums each class's probability into every ancestor of it (not into the class itself: the top
 * prediction already names it) and returns the deepest non-generic ancestor whose sum reaches
 * `threshold` (ties at the same depth: the larger sum), or null when none does.
 *
 * `probabilities[i]` is class i's probability (as `compileHierarchy`'s `classWnids[i]`), e.g. a
 * softmax output. `threshold` is in (0, 1]; a sum equal to it (within 1e-9) qualifies.
 *
 * @example
 * // malamute 0.3, husky 0.25, Eskimo dog 0.2: no breed is sure, but together they are a dog.
 * summarise(compiled, [0.3, 0.25, 0.2, 0.25], 0.6);
 * // { label: 'dog', wnid: 'n02084071', probability: 0.75, path: ['animal', …, 'canine', 'dog'] }
 *
 * @throws {RangeError} threshold outside (0, 1], or probabilities not one per class.
 */
export function summarise(
  compiled: CompiledHierarchy,
  probabilities: ArrayLike<number>,
  threshold: number,
): Summary | null {
  if (!(threshold > 0 && threshold <= 1)) {
    throw new RangeError(`threshold must be in (0, 1], got ${threshold}`);
  }
  const { nodes, ancestors } = compiled;
  if (probabilities.length !== ancestors.length) {
    throw new RangeError(
      `expected ${ancestors.length} class probabilities (one per class), got ${probabilities.length}`,
    );
  }
  const sums = new Float64Array(nodes.length);
  for (let c = 0; c < ancestors.length; c++) {
    const p = probabilities[c] as number;
    if (p === 0) continue;
    for (const a of ancestors[c] as readonly number[]) sums[a] = (sums[a] as number) + p;
  }
  let best = -1;
  for (let n = 0; n < nodes.length; n++) {
    const node = nodes[n] as HierarchyNode;
    const sum = sums[n] as number;
    if (node.generic || !(sum >= threshold - TOLERANCE)) continue;
    if (best === -1) {
      best = n;
      continue;
    }
    const b = nodes[best] as HierarchyNode;
    if (node.depth > b.depth || (node.depth === b.depth && sum > (sums[best] as number))) best = n;
  }
  if (best === -1) return null;

  const chain: HierarchyNode[] = [];
  for (let n = best; n !== -1; n = (nodes[n] as HierarchyNode).parent) chain.push(nodes[n] as HierarchyNode);
  chain.reverse();
  const top = chain.findIndex((n) => !n.generic);
  const node = nodes[best] as HierarchyNode;
  return {
    label: node.name,
    wnid: node.wnid,
    probability: sums[best] as number,
    path: chain.slice(top).map((n) => n.name),
  };
}
