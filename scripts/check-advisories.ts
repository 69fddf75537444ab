/**
 * Fails when the production dependency tree (what `npm ci --omit=dev` installs, read from
 * package-lock.json) holds a version with a known advisory.
 *
 * Two sources, and the output says which answered:
 * - live: `npm audit --omit=dev --json`, the registry's advisory service. Where it answers, it is
 *   the authority (it knows advisories published after the pinned list was written).
 * - pinned: scripts/advisories.json, advisories with their affected semver ranges, compiled by
 *   hand from public advisory records (docs/supply-chain.md). Always checked, offline.
 * When the live audit cannot answer (the registry here answers 405 to the bulk advisory endpoint,
 * or there is no network), the pinned list alone decides, and the output says so.
 *
 *   npm run audit:prod                    # production tree; live audit if it answers, then pinned
 *   npx tsx scripts/check-advisories.ts --offline         # pinned list only, no network
 *   npx tsx scripts/check-advisories.ts --include-dev     # the whole tree (dev tools too)
 *   npx tsx scripts/check-advisories.ts --lockfile other/package-lock.json
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';

export interface Advisory {
  id: string;
  aliases: string[];
  package: string;
  /** Affected versions as a semver range, e.g. `<4.1.2 || >=5.0.0 <5.3.4`. */
  vulnerable: string;
  severity: 'low' | 'moderate' | 'high' | 'critical';
  summary: string;
  references: string[];
  note?: string;
}

export interface AdvisoryList {
  about: string;
  updated: string;
  advisories: Advisory[];
}

export interface InstalledPackage {
  name: string;
  version: string;
  /** Where npm puts it, e.g. `node_modules/s3rver/node_modules/fast-xml-parser`. */
  location: string;
  dev: boolean;
}

export interface Finding {
  pkg: InstalledPackage;
  advisory: Advisory;
}

interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  dev?: boolean;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, LockEntry>;
}

export const REPO_ROOT = path.resolve(__dirname, '..');
export const ADVISORY_LIST = path.join(REPO_ROOT, 'scripts', 'advisories.json');

/**
 * Every package a lockfile (v2 or v3) installs. Links (file: dependencies, overrides to a folder)
 * are skipped: the folder they point to has an entry of its own, and so do its dependencies.
 * `dev` is npm's own flag: set when only devDependencies need the package, so it is left out by
 * `npm ci --omit=dev` (a package both trees need has no flag and counts as production).
 */
export function installedPackages(lock: Lockfile): InstalledPackage[] {
  if (!lock.packages) throw new Error('package-lock.json has no "packages" (lockfileVersion 2 or 3 needed)');
  const found: InstalledPackage[] = [];
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === '' || entry.link) continue;
    const name = entry.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (!entry.version) throw new Error(`package-lock.json: ${location} has no version`);
    found.push({ name, version: entry.version, location, dev: entry.dev === true });
  }
  return found;
}

/** The installed packages whose version is in an advisory's affected range. */
export function findVulnerable(
  packages: readonly InstalledPackage[],
  advisories: readonly Advisory[],
): Finding[] {
  const byName = new Map<string, Advisory[]>();
  for (const a of advisories) byName.set(a.package, [...(byName.get(a.package) ?? []), a]);
  const findings: Finding[] = [];
  for (const pkg of packages) {
    for (const advisory of byName.get(pkg.name) ?? []) {
      if (semver.satisfies(pkg.version, advisory.vulnerable, { includePrerelease: true })) {
        findings.push({ pkg, advisory });
      }
    }
  }
  return findings;
}

/** Reads and checks the pinned list: every entry needs an id, a package and a valid range. */
export function loadAdvisories(file: string = ADVISORY_LIST): AdvisoryList {
  const list = JSON.parse(readFileSync(file, 'utf8')) as AdvisoryList;
  for (const a of list.advisories) {
    if (!/^(GHSA(-[23456789cfghjmpqrvwx]{4}){3}|CVE-\d{4}-\d+)$/.test(a.id)) {
      throw new Error(`${file}: '${a.id}' is not a GHSA or CVE id`);
    }
    if (!a.package || semver.validRange(a.vulnerable) === null) {
      throw new Error(`${file}: ${a.id} needs a package and a valid semver range (got '${a.vulnerable}')`);
    }
    if (a.references.length === 0) throw new Error(`${file}: ${a.id} cites no source`);
  }
  return list;
}

export type LiveAudit =
  { ran: true; total: number; byPackage: Record<string, string> } | { ran: false; reason: string };

interface NpmAuditJson {
  error?: { code?: string; summary?: string };
  message?: string;
  metadata?: { vulnerabilities?: Record<string, number> };
  vulnerabilities?: Record<string, { severity?: string; range?: string }>;
}

/** `npm audit --omit=dev --json` in `cwd`; `ran: false` with the reason when it cannot answer. */
export function liveAudit(cwd: string, timeoutMs = 60_000): LiveAudit {
  const res = spawnSync('npm', ['audit', '--omit=dev', '--json', '--audit-level=low'], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (res.error) return { ran: false, reason: res.error.message };
  let json: NpmAuditJson;
  try {
    json = JSON.parse(res.stdout) as NpmAuditJson;
  } catch {
    const lastLine = `${res.stderr}${res.stdout}`.trim().split('\n').at(-1) ?? '';
    return { ran: false, reason: `npm audit exited ${String(res.status)} without JSON: ${lastLine}` };
  }
  if (json.error || !json.metadata?.vulnerabilities) {
    // npm 11 puts the registry's answer in `message` and leaves error.summary empty on an HTTP error.
    const why = [json.error?.summary, json.message].find((m) => m) ?? `exit ${String(res.status)}`;
    return { ran: false, reason: why.split('\n')[0] ?? why };
  }
  const counts = json.metadata.vulnerabilities;
  const total = counts.total ?? Object.values(counts).reduce((a, b) => a + b, 0);
  const byPackage = Object.fromEntries(
    Object.entries(json.vulnerabilities ?? {}).map(([name, v]) => [
      name,
      `${v.severity ?? '?'} ${v.range ?? ''}`.trim(),
    ]),
  );
  return { ran: true, total, byPackage };
}

interface Options {
  lockfile: string;
  includeDev: boolean;
  offline: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    lockfile: path.join(REPO_ROOT, 'package-lock.json'),
    includeDev: false,
    offline: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--include-dev') options.includeDev = true;
    else if (arg === '--offline') options.offline = true;
    else if (arg === '--lockfile' && argv[i + 1]) options.lockfile = path.resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument '${arg ?? ''}' (--offline, --include-dev, --lockfile FILE)`);
  }
  return options;
}

/** Runs the check and prints what ran; returns the process exit code (0 clean, 1 findings). */
export function main(
  argv: readonly string[],
  log = (line: string) => {
    console.log(line);
  },
): number {
  const options = parseArgs(argv);
  const list = loadAdvisories();
  const lock = JSON.parse(readFileSync(options.lockfile, 'utf8')) as Lockfile;
  const all = installedPackages(lock);
  const tree = options.includeDev ? all : all.filter((p) => !p.dev);
  const scope = options.includeDev ? 'whole tree (dev included)' : 'production tree (npm ci --omit=dev)';
  let failed = false;

  // The live audit reads the lockfile next to it; it only covers the production tree.
  if (options.offline || options.includeDev) {
    log(
      `live audit: skipped (${options.offline ? '--offline' : '--include-dev: npm audit runs with --omit=dev'})`,
    );
  } else {
    const live = liveAudit(path.dirname(options.lockfile));
    if (!live.ran) {
      log(`live audit (npm audit --omit=dev): unavailable, ${live.reason}; the pinned list decides alone`);
    } else if (live.total > 0) {
      failed = true;
      log(`live audit (npm audit --omit=dev): ${String(live.total)} advisory finding(s)`);
      for (const [name, what] of Object.entries(live.byPackage)) log(`  ${name}: ${what}`);
    } else {
      log('live audit (npm audit --omit=dev): no advisories');
    }
  }

  const findings = findVulnerable(tree, list.advisories);
  const packages = new Set(list.advisories.map((a) => a.package)).size;
  log(
    `pinned list (scripts/advisories.json, ${String(list.advisories.length)} advisories for ${String(packages)} packages, updated ${list.updated}): ` +
      `${String(tree.length)} packages in the ${scope} of ${path.relative(process.cwd(), options.lockfile) || options.lockfile}`,
  );
  for (const { pkg, advisory } of findings) {
    log(
      `  ${pkg.name}@${pkg.version} (${pkg.location}): ${advisory.id} ${advisory.severity}, affected ${advisory.vulnerable}: ${advisory.summary} ${advisory.references[0] ?? ''}`,
    );
  }
  if (findings.length > 0) failed = true;
  log(
    findings.length === 0
      ? '  no package in a known-vulnerable range'
      : `  ${String(findings.length)} finding(s)`,
  );
  return failed ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`check-advisories: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  }
}
