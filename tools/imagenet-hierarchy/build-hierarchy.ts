import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildHierarchy, parseDataNoun, parseSynsetList } from './wordnet';

const COMMAND = 'npx tsx tools/imagenet-hierarchy/build-hierarchy.ts';
const SOURCE = 'WordNet 3.0, Debian wordnet-base 1:3.0-37, dict/data.noun';
const USAGE = `usage: ${COMMAND} [--wordnet /usr/share/wordnet/data.noun] [--synsets models/imagenet_synsets.txt] [--out models/imagenet-hierarchy.json]`;

/**
 * Writes models/imagenet-hierarchy.json from WordNet's data.noun (`apt-get install wordnet-base`)
 * and the model's class list: see wordnet.ts for the tree rule. The JSON goes through prettier with
 * the repository's settings, so the file is exactly what `prettier --write` would leave.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      wordnet: { type: 'string', default: '/usr/share/wordnet/data.noun' },
      synsets: { type: 'string', default: 'models/imagenet_synsets.txt' },
      out: { type: 'string', default: 'models/imagenet-hierarchy.json' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let wordnet: Buffer;
  try {
    wordnet = readFileSync(values.wordnet);
  } catch (e) {
    throw new Error(
      `cannot read ${values.wordnet} (${(e as Error).message}): apt-get install wordnet-base, or pass --wordnet`,
      { cause: e },
    );
  }
  const classes = parseSynsetList(readFileSync(values.synsets, 'utf8'));
  const data = buildHierarchy(parseDataNoun(wordnet), classes, { command: COMMAND, source: SOURCE });

  const prettier = await import('prettier');
  const out = path.resolve(values.out);
  // Settings as for a file in the repository (its .prettierrc.json), wherever --out points.
  const config = (await prettier.resolveConfig(path.resolve('models/imagenet-hierarchy.json'))) ?? {};
  const text = await prettier.format(JSON.stringify(data, null, 2), { ...config, parser: 'json' });
  writeFileSync(out, text);
  const nodes = Object.keys(data.names).length;
  process.stdout.write(
    `${values.out}: ${classes.length} classes, ${nodes} nodes, ${Buffer.byteLength(text)} bytes\n`,
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`build-hierarchy failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
