/**
 * Reading WordNet 3.0's noun database (`dict/data.noun`, Debian's wordnet-base) and building the
 * ImageNet class hierarchy that `lambda/src/core/hierarchy.ts` sums probabilities over. No I/O here:
 * the CLI (build-hierarchy.ts) reads the files and writes the JSON.
 *
 * data.noun, as wndb(5WN) describes it: a header of lines starting with two spaces (the licence),
 * then one synset per line, `offset lex_filenum ss_type w_cnt word lex_id [word lex_id…] p_cnt
 * [pointer_symbol offset pos source/target…] [frames] | gloss`. w_cnt and lex_id are hexadecimal,
 * p_cnt decimal. A synset's offset is the byte offset of its line in the file, which is how
 * ImageNet names a class: wnid = 'n' + the 8-digit offset.
 */
import type { HierarchyData } from '../../lambda/src/core/hierarchy';

export interface Synset {
  /** 'n' + the 8-digit byte offset of the line. */
  readonly wnid: string;
  /** The words in the order data.noun lists them, as written there ('Egyptian_cat'). */
  readonly lemmas: readonly string[];
  /** `@` pointers to nouns, in file order. */
  readonly hypernyms: readonly string[];
  /** `@i` pointers to nouns, in file order. */
  readonly instanceHypernyms: readonly string[];
}

export interface NounDatabase {
  /** The header lines (the licence), without their line numbers and trailing spaces. */
  readonly header: readonly string[];
  readonly synsets: ReadonlyMap<string, Synset>;
}

/** WordNet's root noun synset, `entity`. */
export const ENTITY = 'n00001740';

/**
 * Root-most concepts that no photo is "of" (the `generic` deny-list). Chosen from the nodes nearest
 * the root on the 1,000 classes' real chains (depths 0-5): everything above the first word that
 * names a kind of thing you could point at (animal, person, plant, fungus, food, device, container,
 * conveyance, covering, structure, furniture, geological formation, ...). Most of them also merge
 * unrelated kinds (object = animals + artifacts + landforms; matter = food + paper; instrumentality =
 * vehicles + containers + devices), so a sum reaching the threshold there says only "something".
 * Left out on purpose: commodity, covering, structure, geological formation (vague but still an
 * answer), and attribute, location (each above a single class, where a deeper node always wins).
 * communication (traffic light + street sign) stays too: the list is kept to the concepts above
 * most of the classes.
 */
export const GENERIC: readonly { wnid: string; name: string }[] = [
  { wnid: 'n00001740', name: 'entity' },
  { wnid: 'n00001930', name: 'physical entity' },
  { wnid: 'n00002137', name: 'abstraction' },
  { wnid: 'n00002684', name: 'object' },
  { wnid: 'n00003553', name: 'whole' },
  { wnid: 'n00004258', name: 'living thing' },
  { wnid: 'n00004475', name: 'organism' },
  { wnid: 'n00019128', name: 'natural object' },
  { wnid: 'n03892891', name: 'part' },
  { wnid: 'n00020827', name: 'matter' },
  { wnid: 'n00019613', name: 'substance' },
  { wnid: 'n00020090', name: 'substance' },
  { wnid: 'n15046900', name: 'solid' },
  { wnid: 'n00021939', name: 'artifact' },
  { wnid: 'n03575240', name: 'instrumentality' },
];

const LINE_OFFSET = /^\d{8} /;

/**
 * Parses data.noun. Checks that every synset line starts at the byte offset it names (else the
 * file is not data.noun, or was re-encoded), so wnids from ImageNet find their synsets.
 */
export function parseDataNoun(bytes: Uint8Array): NounDatabase {
  const header: string[] = [];
  const synsets = new Map<string, Synset>();
  const decoder = new TextDecoder('latin1');
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = decoder.decode(bytes.subarray(start, end));
    if (line.startsWith('  ')) {
      header.push(line.replace(/^ {2}\d+ ?/, '').trimEnd());
    } else if (line !== '') {
      if (!LINE_OFFSET.test(line)) throw new Error(`data.noun: unexpected line at byte ${start}`);
      const synset = parseSynsetLine(line);
      if (Number(line.slice(0, 8)) !== start) {
        throw new Error(`data.noun: the synset at byte ${start} says it is at ${line.slice(0, 8)}`);
      }
      synsets.set(synset.wnid, synset);
    }
    start = end + 1;
  }
  return { header, synsets };
}

/** One synset line of data.noun (see the file's comment for the fields). */
export function parseSynsetLine(line: string): Synset {
  const bar = line.indexOf(' | ');
  const fields = (bar >= 0 ? line.slice(0, bar) : line).trim().split(' ');
  const at = (i: number): string => {
    const f = fields[i];
    if (f === undefined) throw new Error(`data.noun: synset ${fields[0] ?? '?'} ends early`);
    return f;
  };
  const offset = at(0);
  if (at(2) !== 'n') throw new Error(`data.noun: synset ${offset} is not a noun (${at(2)})`);
  const wordCount = parseInt(at(3), 16);
  if (!(wordCount > 0)) throw new Error(`data.noun: synset ${offset} has no words`);
  const lemmas: string[] = [];
  for (let w = 0; w < wordCount; w++) lemmas.push(at(4 + 2 * w));
  let i = 4 + 2 * wordCount;
  const pointerCount = parseInt(at(i), 10);
  if (Number.isNaN(pointerCount)) throw new Error(`data.noun: synset ${offset} has no pointer count`);
  i++;
  const hypernyms: string[] = [];
  const instanceHypernyms: string[] = [];
  for (let p = 0; p < pointerCount; p++, i += 4) {
    const [symbol, target, pos] = [at(i), at(i + 1), at(i + 2)];
    if (pos !== 'n') continue;
    if (symbol === '@') hypernyms.push(`n${target}`);
    else if (symbol === '@i') instanceHypernyms.push(`n${target}`);
  }
  return { wnid: `n${offset}`, lemmas, hypernyms, instanceHypernyms };
}

/** A synset's short name: its first lemma, underscores as spaces, markers like '(a)' removed. */
export function shortName(synset: Synset): string {
  const lemma = synset.lemmas[0] ?? synset.wnid;
  return lemma
    .replace(/\([a-z]+\)$/, '')
    .replace(/_/g, ' ')
    .trim();
}

/** The tree's parent: the first hypernym (`@`), else the first instance hypernym (`@i`). */
export function treeParent(synset: Synset): string | undefined {
  return synset.hypernyms[0] ?? synset.instanceHypernyms[0];
}

/** The wnids of models/imagenet_synsets.txt ("wnid names…" per line), in class order. */
export function parseSynsetList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l, i) => {
      const wnid = l.split(' ')[0] ?? '';
      if (!/^n\d{8}$/.test(wnid)) throw new Error(`synset list line ${i + 1}: no wnid in "${l}"`);
      return wnid;
    });
}

/**
 * The licence's name and its full text from data.noun's header, line breaks kept (the licence asks
 * for its notice on all copies, modifications included).
 */
export function licenseFromHeader(header: readonly string[]): string {
  const text = header.join('\n').trim();
  if (!text.includes('WordNet 3.0 Copyright 2006 by Princeton University')) {
    throw new Error('data.noun: its header is not the WordNet 3.0 licence');
  }
  return `WordNet 3.0 license (Princeton University), from data.noun's header:\n\n${text}`;
}

export interface BuildOptions {
  /** The command that regenerates the file, for its $comment. */
  readonly command: string;
  readonly source: string;
}

/**
 * The hierarchy file's content: for each class, its chain of tree parents up to `entity`, every
 * node named. Keys sorted, so the output depends on the inputs only.
 */
export function buildHierarchy(
  db: NounDatabase,
  classWnids: readonly string[],
  opts: BuildOptions,
): HierarchyData {
  const names = new Map<string, string>();
  const parents = new Map<string, string>();
  for (const wnid of classWnids) {
    let node = wnid;
    const seen = new Set<string>();
    for (;;) {
      const synset = db.synsets.get(node);
      if (!synset) throw new Error(`${node} (on the chain of class ${wnid}) is not in data.noun`);
      if (seen.has(node)) throw new Error(`the chain of class ${wnid} loops at ${node}`);
      seen.add(node);
      names.set(node, shortName(synset));
      if (node === ENTITY) break;
      const parent = treeParent(synset);
      if (!parent) throw new Error(`${node} (on the chain of class ${wnid}) has no hypernym`);
      parents.set(node, parent);
      node = parent;
    }
  }
  const generic = GENERIC.filter((g) => names.has(g.wnid));
  for (const g of generic) {
    if (names.get(g.wnid) !== g.name) {
      throw new Error(`generic ${g.wnid} is "${names.get(g.wnid) ?? ''}" in data.noun, not "${g.name}"`);
    }
  }
  const sorted = (m: Map<string, string>): Record<string, string> =>
    Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    $comment: [
      `The WordNet hypernym tree above the ${classWnids.length} ImageNet classes of models/imagenet_synsets.txt,`,
      'for summaries like "a dog": lambda/src/core/hierarchy.ts sums class probabilities into their ancestors.',
      `Generated by \`${opts.command}\` (apt-get install wordnet-base first); do not edit by hand:`,
      'test/system/imagenet-hierarchy-build.test.ts checks that the script makes exactly this file.',
      'Tree rule: a synset\'s parent is its FIRST hypernym pointer ("@") in data.noun, else its first instance',
      'hypernym ("@i"), so each class has one chain up to the root, entity (n00001740), and the output is',
      'deterministic. WordNet is a DAG and only the first hypernym is followed: e.g. dog is also a',
      '"domestic animal", which this tree does not contain.',
      "names: each synset's first lemma, underscores as spaces. parents: each node's parent in the tree.",
      'generic: never reported as a summary, the root-most concepts on the chains, above the first word that',
      'names a kind of thing one could point at in a photo (animal, person, plant, food, device, container,',
      'conveyance, covering, structure, ...); most of them lump unrelated kinds together (object = animals +',
      'artifacts + landforms, matter = food + paper, instrumentality = vehicles + containers + devices): ' +
        generic.map((g) => `${g.name} (${g.wnid})`).join(', ') +
        '.',
    ].join(' '),
    source: opts.source,
    license: licenseFromHeader(db.header),
    root: ENTITY,
    generic: generic.map((g) => g.wnid),
    names: sorted(names),
    parents: sorted(parents),
  };
}
