/**
 * The Dockerfile as data: its stages and their instructions, for the image rehearsal
 * (rehearse.ts) and the tests that read it. Only what this project's Dockerfile uses is parsed;
 * anything else is refused, so a new instruction cannot be skipped silently.
 */

export type Instruction =
  | { kind: 'WORKDIR'; path: string }
  | { kind: 'ENV'; vars: Record<string, string> }
  | { kind: 'ARG'; name: string; value: string | null }
  | { kind: 'COPY'; from: string | null; sources: string[]; dest: string }
  | { kind: 'RUN'; command: string }
  | { kind: 'CMD'; args: string[] };

export interface Stage {
  /** The `AS` name, or the stage's index for an unnamed stage. */
  name: string;
  image: string;
  instructions: Instruction[];
}

/** `KEY=value KEY2="quoted value"` pairs (the only ENV form used here). */
function parsePairs(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let rest = text;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const raw = m[2] ?? '';
    vars[m[1] ?? ''] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    rest = rest.replace(m[0], '');
  }
  if (rest.trim()) throw new Error(`ENV: cannot parse '${rest.trim()}' (use KEY=value pairs)`);
  return vars;
}

function parseInstruction(keyword: string, args: string): Instruction {
  switch (keyword) {
    case 'WORKDIR':
      return { kind: 'WORKDIR', path: args };
    case 'ENV':
      return { kind: 'ENV', vars: parsePairs(args) };
    case 'ARG': {
      const eq = args.indexOf('=');
      if (eq < 0) return { kind: 'ARG', name: args, value: null };
      const value = args.slice(eq + 1);
      return { kind: 'ARG', name: args.slice(0, eq), value: value.replace(/^"(.*)"$/, '$1') };
    }
    case 'COPY': {
      const words = args.split(/\s+/);
      const flag = words[0]?.match(/^--from=(.+)$/);
      if (flag) words.shift();
      if (words.some((w) => w.startsWith('--'))) throw new Error(`COPY: unsupported flag in '${args}'`);
      if (words.length < 2) throw new Error(`COPY needs a source and a destination: '${args}'`);
      return { kind: 'COPY', from: flag?.[1] ?? null, sources: words.slice(0, -1), dest: words.at(-1) ?? '' };
    }
    case 'RUN':
      return { kind: 'RUN', command: args };
    case 'CMD':
      return { kind: 'CMD', args: JSON.parse(args) as string[] };
    default:
      throw new Error(
        `Dockerfile instruction ${keyword} is not rehearsed; teach scripts/image-rehearsal/dockerfile.ts`,
      );
  }
}

/** Stages in file order; line continuations joined, comments and blank lines dropped. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({
        name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length),
        image,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`'${line}' comes before the first FROM`);
    stage.instructions.push(parseInstruction(keyword.toUpperCase(), args));
  }
  return stages;
}
