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
  /** The FROM reference as written, e.g. `${NODE_BASE}`. */
  from: string;
  /** The base image (`repository:tag`) once the ARGs before the first FROM are substituted. */
  image: string;
  /** The `sha256:…` digest the FROM pins, or null for a tag-only reference. */
  digest: string | null;
  instructions: Instruction[];
}

/** Docker's `${NAME}` / `$NAME` substitution with the ARGs declared before the first FROM. */
function substituteGlobalArgs(text: string, args: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
    const name = a ?? b ?? '';
    const value = args[name];
    if (value === undefined)
      throw new Error(`FROM uses \${${name}}, which no ARG before the first FROM sets`);
    return value;
  });
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

/**
 * Stages in file order; line continuations joined, comments and blank lines dropped. ARGs before the
 * first FROM are the global build arguments FROM lines may use (their defaults, or `buildArgs`).
 */
export function parseDockerfile(text: string, buildArgs: Readonly<Record<string, string>> = {}): Stage[] {
  const lines = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  const globalArgs: Record<string, string> = {};
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/);
      const [image = '', digest] = substituteGlobalArgs(from, globalArgs).split('@');
      stages.push({
        name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length),
        from,
        image,
        digest: digest ?? null,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    const instruction = parseInstruction(keyword.toUpperCase(), args);
    if (stage) stage.instructions.push(instruction);
    else if (instruction.kind === 'ARG')
      globalArgs[instruction.name] = buildArgs[instruction.name] ?? instruction.value ?? '';
    else throw new Error(`'${line}' comes before the first FROM (only ARG may)`);
  }
  return stages;
}
