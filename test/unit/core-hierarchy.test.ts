import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  compileHierarchy,
  summarise,
  type CompiledHierarchy,
  type HierarchyData,
} from '../../lambda/src/core/hierarchy';
import { REPO_ROOT } from '../support/fixtures';

/**
 *            entity*
 *           /       \
 *       animal     artifact*
 *       /    \          \
 *    canine   cat        mug
 *      |       |
 *     dog    tabby
 *   /  |  \
 * mal husky eskimo
 * (* = generic)
 */
const tiny: HierarchyData = {
  root: 'e',
  generic: ['e', 'art'],
  names: {
    e: 'entity',
    an: 'animal',
    can: 'canine',
    dog: 'dog',
    mal: 'malamute',
    hus: 'husky',
    esk: 'Eskimo dog',
    cat: 'cat',
    tab: 'tabby',
    art: 'artifact',
    mug: 'mug',
  },
  parents: {
    an: 'e',
    can: 'an',
    dog: 'can',
    mal: 'dog',
    hus: 'dog',
    esk: 'dog',
    cat: 'an',
    tab: 'cat',
    art: 'e',
    mug: 'art',
  },
};
const CLASSES = ['mal', 'hus', 'esk', 'tab', 'mug'];

describe('summarise on a tiny hierarchy', () => {
  const compiled = compileHierarchy(tiny, CLASSES);
  const run = (p: number[], threshold = 0.6) => summarise(compiled, p, threshold);

  test('three breeds at 30/25/20 make a dog at 0.75, with its path from the top non-generic node', () => {
    const s = run([0.3, 0.25, 0.2, 0.15, 0.1]);
    expect(s).toEqual({
      label: 'dog',
      wnid: 'dog',
      probability: expect.any(Number),
      path: ['animal', 'canine', 'dog'],
    });
    expect(s?.probability).toBeCloseTo(0.75, 12);
  });

  test('a sure leaf is summarised as its parent (the leaf itself is never the summary)', () => {
    expect(run([0.9, 0.05, 0, 0.05, 0])).toMatchObject({
      label: 'dog',
      probability: expect.closeTo(0.95, 12),
    });
    expect(run([0, 0, 0, 0.9, 0.1])).toMatchObject({
      label: 'cat',
      probability: 0.9,
      path: ['animal', 'cat'],
    });
  });

  test('a sum exactly at the threshold passes; just below, a higher ancestor answers', () => {
    const p = [0.3, 0.25, 0.2, 0.15, 0.1];
    expect(run(p, 0.75)?.label).toBe('dog');
    expect(run(p, 0.7501)).toMatchObject({ label: 'animal', path: ['animal'] });
    expect(run([0, 0, 0, 0.6, 0.4], 0.6)?.label).toBe('cat');
    expect(run([0, 0, 0, 1, 0], 1)?.label).toBe('cat');
  });

  test('generic nodes are never the summary: null when only they reach the threshold', () => {
    // artifact (generic) holds 0.7, entity 1: neither may answer.
    expect(run([0.1, 0, 0, 0.2, 0.7])).toBeNull();
    // animal 0.5 and artifact 0.5 at threshold 0.5: only animal may answer.
    expect(run([0.2, 0, 0, 0.3, 0.5], 0.5)?.label).toBe('animal');
  });

  test('null when nothing qualifies', () => {
    expect(run([0.2, 0.1, 0.1, 0.1, 0.5], 0.6)).toBeNull();
    expect(run([0, 0, 0, 0, 0])).toBeNull();
  });

  test('the deepest qualifying node wins, even with a smaller sum than a shallower one', () => {
    expect(run([0.5, 0, 0, 0.45, 0.05], 0.4)?.label).toBe('dog'); // dog (depth 3, 0.5) over cat (depth 2)
    expect(run([0.4, 0, 0, 0.55, 0.05], 0.4)?.label).toBe('dog'); // dog 0.4 over cat 0.55
    expect(run([0.3, 0, 0, 0.45, 0.25], 0.35)?.label).toBe('cat'); // dog and canine 0.3 fall short
  });

  test('a tie at one depth goes to the larger sum', () => {
    const flat: HierarchyData = {
      root: 'r',
      generic: ['r'],
      names: { r: 'root', a: 'a', b: 'b', a1: 'a1', b1: 'b1' },
      parents: { a: 'r', b: 'r', a1: 'a', b1: 'b' },
    };
    const c = compileHierarchy(flat, ['a1', 'b1']);
    expect(summarise(c, [0.45, 0.55], 0.4)?.label).toBe('b');
    expect(summarise(c, [0.55, 0.45], 0.4)?.label).toBe('a');
  });

  test('the path starts below a generic prefix and runs down to the node', () => {
    const deep: HierarchyData = {
      root: 'r',
      generic: ['r', 'g'],
      names: { r: 'entity', g: 'organism', a: 'animal', m: 'mammal', d: 'dog', x: 'malamute' },
      parents: { g: 'r', a: 'g', m: 'a', d: 'm', x: 'd' },
    };
    expect(summarise(compileHierarchy(deep, ['x']), [1], 0.6)?.path).toEqual(['animal', 'mammal', 'dog']);
  });

  test('a class absent from the data adds to nothing', () => {
    const c = compileHierarchy(tiny, [...CLASSES, 'unknown']);
    expect(c.ancestors[5]).toEqual([]);
    expect(summarise(c, [0, 0, 0, 0, 0, 1], 0.6)).toBeNull();
    expect(summarise(c, [0.3, 0.3, 0, 0, 0, 0.4], 0.6)?.label).toBe('dog');
  });

  test('ancestors are listed nearest first, without the class itself', () => {
    const byName = (ids: readonly number[]) => ids.map((i) => compiled.nodes[i]!.name);
    expect(byName(compiled.ancestors[0]!)).toEqual(['dog', 'canine', 'animal', 'entity']);
    expect(byName(compiled.ancestors[4]!)).toEqual(['artifact', 'entity']);
  });

  test.each([0, -0.1, 1.0001, NaN, Infinity])('threshold %p is a RangeError', (t) => {
    expect(() => run([0.3, 0.25, 0.2, 0.15, 0.1], t)).toThrow(RangeError);
  });

  test('probabilities must be one per class', () => {
    expect(() => summarise(compiled, [0.5, 0.5], 0.6)).toThrow(RangeError);
    expect(summarise(compiled, new Float32Array([0.5, 0.3, 0, 0, 0.2]), 0.6)?.label).toBe('dog');
  });
});

describe('compileHierarchy rejects malformed data', () => {
  const broken = (patch: Partial<Record<keyof HierarchyData, unknown>>) =>
    ({ ...tiny, ...patch }) as unknown as HierarchyData;
  test.each([
    ['a parent cycle', broken({ parents: { ...tiny.parents, an: 'tab' } }), /cycle/],
    ['a parent without a name', broken({ parents: { ...tiny.parents, mug: 'nowhere' } }), /nowhere.*no name/],
    [
      'a named node without a parent',
      broken({ names: { ...tiny.names, lost: 'lost' } }),
      /lost has no parent/,
    ],
    [
      'a child without a name',
      broken({ parents: { ...tiny.parents, ghost: 'e' } }),
      /ghost has a parent but no name/,
    ],
    ['a root without a name', broken({ root: 'nope' }), /root nope has no name/],
    ['a root with a parent', broken({ parents: { ...tiny.parents, e: 'an' } }), /root e has a parent/],
    ['a generic node without a name', broken({ generic: ['e', 'zzz'] }), /generic node zzz/],
    ['an empty name', broken({ names: { ...tiny.names, dog: ' ' } }), /dog has an empty name/],
    ['names not an object', broken({ names: ['x'] }), /"names"/],
    ['parents with a number', broken({ parents: { ...tiny.parents, an: 3 } }), /"parents"/],
    ['generic not an array', broken({ generic: 'e' }), /"generic"/],
    ['no root', broken({ root: undefined }), /"root"/],
  ])('%s', (_, data, message) => {
    expect(() => compileHierarchy(data, CLASSES)).toThrow(message);
  });
});

describe('the committed WordNet hierarchy (models/imagenet-hierarchy.json)', () => {
  const file = path.join(REPO_ROOT, 'models', 'imagenet-hierarchy.json');
  const data = JSON.parse(readFileSync(file, 'utf8')) as HierarchyData;
  const classes = readFileSync(path.join(REPO_ROOT, 'models', 'imagenet_synsets.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' ')[0]!);
  let compiled: CompiledHierarchy;
  beforeAll(() => {
    compiled = compileHierarchy(data, classes);
  });
  const chain = (wnid: string) =>
    compiled.ancestors[classes.indexOf(wnid)]!.map((i) => ({
      wnid: compiled.nodes[i]!.wnid,
      name: compiled.nodes[i]!.name,
    }));

  test('its leaves are exactly the 1,000 classes, and each reaches the root', () => {
    expect(classes).toHaveLength(1000);
    expect(new Set(classes).size).toBe(1000);
    const withChildren = new Set(Object.values(data.parents));
    const leaves = Object.keys(data.names).filter((w) => !withChildren.has(w));
    expect(leaves.sort()).toEqual([...classes].sort());
    for (const ancestors of compiled.ancestors) {
      expect(ancestors.length).toBeGreaterThan(0);
      expect(compiled.nodes[ancestors.at(-1)!]!.wnid).toBe(data.root);
    }
    expect(data.root).toBe('n00001740');
    expect(data.names[data.root]).toBe('entity');
  });

  test('the three domestic cat classes meet at "domestic cat" (n02121808)', () => {
    for (const cat of ['n02124075', 'n02123045', 'n02123159']) {
      expect(chain(cat)[0]).toEqual({ wnid: 'n02121808', name: 'domestic cat' });
    }
  });

  test('a malamute (n02110063) is a dog (n02084071); a coffee mug (n03063599) a container', () => {
    expect(chain('n02110063')).toContainEqual({ wnid: 'n02084071', name: 'dog' });
    const mug = chain('n03063599').map((n) => n.name);
    expect(mug).toEqual(expect.arrayContaining(['vessel', 'container']));
  });

  test('the generic deny-list is short and root-most', () => {
    expect(data.generic.length).toBeGreaterThanOrEqual(10);
    expect(data.generic.length).toBeLessThanOrEqual(15);
    expect(data.generic).toContain(data.root);
    const generic = new Set(data.generic);
    for (const g of data.generic) {
      const node = compiled.nodes.find((n) => n.wnid === g)!;
      expect(node.depth).toBeLessThanOrEqual(5);
      // Only generic nodes above a generic node: it sits in the root-most band.
      for (let p = node.parent; p !== -1; p = compiled.nodes[p]!.parent) {
        expect(generic.has(compiled.nodes[p]!.wnid)).toBe(true);
      }
    }
    expect(data.generic.map((g) => data.names[g])).toEqual(
      expect.arrayContaining(['entity', 'object', 'organism', 'artifact']),
    );
  });

  test('a malamute-dominated dog photo is summarised within the dogs; cats as "domestic cat"', () => {
    const p = new Float64Array(1000);
    const set = (wnid: string, v: number) => (p[classes.indexOf(wnid)] = v);
    set('n02110063', 0.756);
    set('n02109961', 0.068);
    set('n02110185', 0.042);
    const dog = summarise(compiled, p, 0.6)!;
    expect(dog.path.slice(0, 1)).toEqual(['animal']);
    expect(dog.path).toContain('dog');
    p.fill(0);
    set('n02124075', 0.717);
    set('n02123159', 0.145);
    set('n02123045', 0.123);
    expect(summarise(compiled, p, 0.6)).toMatchObject({ label: 'domestic cat', wnid: 'n02121808' });
  });

  test('it carries its source and licence, and stays small', () => {
    expect(data.source).toMatch(/WordNet 3\.0/);
    expect(data.license).toMatch(/WordNet 3\.0 Copyright 2006 by Princeton University/);
    expect(data.$comment).toMatch(/build-hierarchy\.ts/);
    expect(Object.keys(data.names)).toHaveLength(Object.keys(data.parents).length + 1);
    expect(statSync(file).size).toBeLessThan(160 * 1024); // about 110 KB for 1,808 nodes
  });
});
