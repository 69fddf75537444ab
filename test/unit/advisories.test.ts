/**
 * The advisory check CI runs (`npm run audit:prod`, scripts/check-advisories.ts): it must fail on a
 * production tree that holds a version the pinned list knows to be vulnerable, pass on this
 * project's own lockfile, and ignore dev-only packages unless asked. Offline: the live `npm audit`
 * is skipped with --offline (the registry here answers 405 anyway).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import semver from 'semver';
import {
  ADVISORY_LIST,
  findVulnerable,
  installedPackages,
  loadAdvisories,
  main,
  REPO_ROOT,
} from '../../scripts/check-advisories';

const list = loadAdvisories();
const ownLock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; link?: boolean; name?: string }>;
};

/** A lockfile with one production and one dev-only package besides the root. */
function lockWith(prod: Record<string, string>, dev: Record<string, string> = {}) {
  const packages: Record<string, { version?: string; dev?: boolean; link?: boolean }> = {
    '': { version: '1.0.0' },
  };
  for (const [name, version] of Object.entries(prod)) packages[`node_modules/${name}`] = { version };
  for (const [name, version] of Object.entries(dev))
    packages[`node_modules/dev-tool/node_modules/${name}`] = { version, dev: true };
  return { lockfileVersion: 3, packages };
}

function runMain(lock: object, ...args: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'advisories-'));
  try {
    const file = path.join(dir, 'package-lock.json');
    writeFileSync(file, JSON.stringify(lock));
    const lines: string[] = [];
    const code = main(['--offline', '--lockfile', file, ...args], (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('pinned advisory list (scripts/advisories.json)', () => {
  test('every entry has a GHSA/CVE id, a valid semver range and a source', () => {
    expect(list.advisories.length).toBeGreaterThan(20);
    for (const a of list.advisories) {
      expect({ id: a.id, range: semver.validRange(a.vulnerable) !== null }).toEqual({
        id: a.id,
        range: true,
      });
      expect(a.references.length).toBeGreaterThan(0);
    }
    expect(new Set(list.advisories.map((a) => a.id)).size).toBe(list.advisories.length);
  });

  test('covers the production packages it was written for, and the S3 test server’s XML parser', () => {
    const prodNames = new Set(installedPackages(ownLock).flatMap((p) => (p.dev ? [] : [p.name])));
    const listed = new Set(list.advisories.map((a) => a.package));
    for (const name of ['protobufjs', 'sharp', 'semver', 'adm-zip', 'esbuild', 'ansi-regex']) {
      expect({ name, inProductionTree: prodNames.has(name), listed: listed.has(name) }).toEqual({
        name,
        inProductionTree: true,
        listed: true,
      });
    }
    expect(listed.has('fast-xml-parser')).toBe(true);
  });
});

describe('scripts/check-advisories.ts', () => {
  test('fails on a production tree with fast-xml-parser 3.21.1 (GHSA-x3cc-x39p-42qx, < 4.1.2)', () => {
    const { code, out } = runMain(lockWith({ 'fast-xml-parser': '3.21.1' }));
    expect(code).toBe(1);
    expect(out).toContain('fast-xml-parser@3.21.1');
    expect(out).toContain('GHSA-x3cc-x39p-42qx');
    expect(out).toMatch(/live audit: skipped \(--offline\)/);
  });

  test('fails on the other listed packages at a vulnerable version, passes at the fixed one', () => {
    const vulnerable = { protobufjs: '7.2.4', sharp: '0.35.3', semver: '7.5.1', 'adm-zip': '0.6.0' };
    const fixed = { protobufjs: '8.8.1', sharp: '0.35.5', semver: '7.8.6', 'adm-zip': '0.6.1' };
    const found = findVulnerable(installedPackages(lockWith(vulnerable)), list.advisories);
    expect(new Set(found.map((f) => f.pkg.name))).toEqual(new Set(Object.keys(vulnerable)));
    expect(findVulnerable(installedPackages(lockWith(fixed)), list.advisories)).toEqual([]);
    expect(runMain(lockWith(fixed)).code).toBe(0);
  });

  test('ignores a dev-only vulnerable package in the production check, reports it with --include-dev', () => {
    const lock = lockWith({ sharp: '0.35.5' }, { 'fast-xml-parser': '3.21.1' });
    expect(runMain(lock).code).toBe(0);
    const all = runMain(lock, '--include-dev');
    expect(all.code).toBe(1);
    expect(all.out).toContain('node_modules/dev-tool/node_modules/fast-xml-parser');
  });

  test('passes on this project’s lockfile: production tree and whole tree', () => {
    const packages = installedPackages(ownLock);
    expect(packages.filter((p) => !p.dev).length).toBeGreaterThan(50);
    expect(findVulnerable(packages, list.advisories)).toEqual([]);
    const prod = runMain(ownLock);
    expect(prod.out).toContain('no package in a known-vulnerable range');
    expect(prod.code).toBe(0);
  });

  test('reads links as the folders they point to: the S3 test server gets fast-xml-parser 4.5.7', () => {
    const packages = installedPackages(ownLock);
    const xml = packages.filter((p) => p.name === 'fast-xml-parser');
    expect(xml).toEqual([
      {
        name: 'fast-xml-parser',
        version: '4.5.7',
        location: 'scripts/fast-xml-parser-v3-compat/node_modules/fast-xml-parser',
        dev: true,
      },
    ]);
    expect(ownLock.packages['node_modules/fast-xml-parser']).toEqual({
      resolved: 'scripts/fast-xml-parser-v3-compat',
      link: true,
    });
  });

  test('refuses an entry without a valid range', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'advisories-'));
    try {
      const file = path.join(dir, 'list.json');
      const bad = { ...list, advisories: [{ ...list.advisories[0], vulnerable: 'not a range' }] };
      writeFileSync(file, JSON.stringify(bad));
      expect(() => loadAdvisories(file)).toThrow(/valid semver range/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(path.basename(ADVISORY_LIST)).toBe('advisories.json');
  });
});
