import { readFileSync } from 'node:fs';
import path from 'node:path';
import { closeMatches, levenshtein, resolveClasses } from '../../lambda/src/core/class-filter';
import { InvalidParameterError } from '../../lambda/src/core/errors';

const COCO = readFileSync(path.join(__dirname, '../../models/coco80_cocoapi.txt'), 'utf8')
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter(Boolean);

function rejection(tokens: string[]): string {
  try {
    resolveClasses(tokens, COCO);
  } catch (e) {
    if (!(e instanceof InvalidParameterError)) throw e;
    expect(e.code).toBe('INVALID_PARAMETER');
    expect(e.details).toEqual({ parameter: 'classes' });
    return e.message;
  }
  throw new Error(`expected a rejection for ${tokens.join(',')}`);
}

describe('levenshtein', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(levenshtein('dog', 'dog')).toBe(0);
    expect(levenshtein('dgo', 'dog')).toBe(2);
    expect(levenshtein('persn', 'person')).toBe(1);
    expect(levenshtein('', 'cat')).toBe(3);
    expect(levenshtein('kitten', 'sitting')).toBe(3);
  });
});

describe('closeMatches', () => {
  it('finds labels within edit distance 2 or starting with the name, closest first', () => {
    expect(closeMatches('dgo', COCO)).toContain('dog');
    expect(closeMatches('persn', COCO)[0]).toBe('person');
    expect(closeMatches('traff', COCO)[0]).toBe('traffic light'); // a prefix ranks first (then 'train')
    expect(closeMatches('Tedy Bear', COCO)).toEqual(['teddy bear']);
    expect(closeMatches('zzzzzzzz', COCO)).toEqual([]);
    expect(closeMatches('ca', COCO, 3)).toHaveLength(3);
  });
});

describe('resolveClasses', () => {
  it('maps names (any case, spaces/underscores ignored) and ids to COCO class ids', () => {
    expect([...resolveClasses(['person', 'dog'], COCO)]).toEqual([0, 16]);
    expect([...resolveClasses(['0', '16'], COCO)]).toEqual([0, 16]);
    expect([...resolveClasses(['DOG', 'traffic_light', 'Dining Table'], COCO)].sort((a, b) => a - b)).toEqual(
      [9, 16, 60],
    );
  });

  it('rejects an unknown name with INVALID_PARAMETER listing close matches', () => {
    const message = rejection(['person', 'dgo']);
    expect(message).toMatch(/unknown class "dgo" \(did you mean [^)]*'dog'/);
    expect(message).not.toContain('"person"');
  });

  it('rejects a name with nothing close, and an id out of range', () => {
    expect(rejection(['unicorn'])).toContain('unknown class "unicorn".');
    expect(rejection(['80'])).toContain('class id 80 is out of range (0 to 79)');
  });
});
