/**
 * The deployment files, checked without a container engine (the build machines have none):
 * every path the Dockerfile and docker-compose.yml reference exists (in the repository, or as a
 * build output the Dockerfile makes), .dockerignore leaves what the Dockerfile copies, every npm
 * workspace manifest reaches `npm ci` and is in package-lock.json, the compose file passes
 * `docker-compose config` (Debian's docker-compose), and the config the router container reads is
 * valid with all its static directories present in the container. The image's command runs
 * (outside a container) with the compose environment, and its HEALTHCHECK command against it.
 * Nothing here builds or runs an image.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@switchboard/router';
import { startRouterProcess } from './support/processes.js';
import { requireSystem } from './support/system.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const repo = (path: string): string => join(ROOT, path);

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  workdir: string;
  instructions: Instruction[];
}

/** Dockerfile instructions (continuation lines joined, comments dropped), grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') start = i + 1;
    pending += `${line.replace(/\\$/, '')} `;
    if (line.endsWith('\\')) return;
    const [keyword = '', ...rest] = pending.trim().split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' '), line: start };
    pending = '';
    if (instruction.keyword === 'FROM') {
      const name = /\bAS\s+(\S+)$/i.exec(instruction.args)?.[1] ?? String(stages.length);
      stages.push({ name, workdir: '/', instructions: [] });
    }
    const stage = stages[stages.length - 1];
    if (stage === undefined) return; // ARG before the first FROM
    if (instruction.keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, instruction.args);
    stage.instructions.push(instruction);
  });
  return stages;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  /** Absolute path in the stage. */
  destination: string;
  /** `COPY a b dir/`: the sources land inside the destination, under their own names. */
  intoDirectory: boolean;
  line: number;
}

function copies(stage: Stage): Copy[] {
  let workdir = '/';
  const out: Copy[] = [];
  for (const ins of stage.instructions) {
    if (ins.keyword === 'WORKDIR') workdir = posix.resolve(workdir, ins.args);
    if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') continue;
    const words = ins.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const destination = paths.pop() ?? '';
    const intoDirectory = destination.endsWith('/') || destination === '.' || paths.length > 1;
    out.push({ from, sources: paths, destination: posix.resolve(workdir, destination), intoDirectory, line: ins.line });
  }
  return out;
}

/** A .dockerignore pattern as a RegExp over context-relative paths (enough for the patterns we use). */
function ignorePattern(pattern: string): RegExp {
  const body = pattern
    .replace(/\/+$/, '')
    .split('/')
    .map((part) =>
      part === '**'
        ? '(?:.*)'
        : part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
    )
    .join('/')
    .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
  return new RegExp(`^${body}(?:/.*)?$`);
}

const DOCKERFILE = readFileSync(repo('Dockerfile'), 'utf8');
const STAGES = parseDockerfile(DOCKERFILE);
const stage = (name: string): Stage => {
  const found = STAGES.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no stage ${name} in the Dockerfile`);
  return found;
};
const IGNORED = readFileSync(repo('.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map(ignorePattern);

/** The npm workspaces' package.json files, as the root package.json lists them (`dir` or `dir/*`). */
function workspaceManifests(): string[] {
  const { workspaces } = JSON.parse(readFileSync(repo('package.json'), 'utf8')) as { workspaces: string[] };
  return workspaces.flatMap((w) => {
    if (!w.endsWith('/*')) return [`${w}/package.json`];
    const dir = w.slice(0, -2);
    return readdirSync(repo(dir), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(repo(`${dir}/${d.name}/package.json`)))
      .map((d) => `${dir}/${d.name}/package.json`);
  });
}

/** What a stage's COPY instructions from the context bring in (context-relative, without a trailing slash). */
function copiedFromContext(s: Stage): string[] {
  return copies(s)
    .filter((c) => c.from === undefined)
    .flatMap((c) => c.sources.map((p) => p.replace(/\/+$/, '').replace(/^\.\//, '')));
}

const covers = (copied: string[], path: string): boolean => copied.some((c) => c === '.' || path === c || path.startsWith(`${c}/`));

/** Folders whose dist/ the build stage produces: the router's tsconfig and the projects it references. */
function builtPackages(): string[] {
  const refs = (dir: string): string[] => {
    const tsconfig = JSON.parse(readFileSync(repo(`${dir}/tsconfig.json`), 'utf8')) as { references?: { path: string }[] };
    return [dir, ...(tsconfig.references ?? []).flatMap((r) => refs(posix.normalize(posix.join(dir, r.path))))];
  };
  return [...new Set(refs('router'))];
}

describe('Dockerfile', () => {
  it('has a build stage, a production-dependencies stage and a runtime stage that runs as a non-root user with a /health check', () => {
    expect(STAGES.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    const runtime = stage('runtime');
    const keywords = (s: Stage, k: string): string[] => s.instructions.filter((i) => i.keyword === k).map((i) => i.args);
    expect(keywords(runtime, 'USER')).toEqual(['node']);
    expect(keywords(runtime, 'HEALTHCHECK').join(' ')).toContain("'/health'");
    expect(keywords(runtime, 'ENTRYPOINT')).toEqual(['["node", "/app/router/bin/switchboard.js"]']);
    expect(keywords(runtime, 'CMD')).toEqual(['["start"]']);
    expect(keywords(stage('deps'), 'RUN').join(' ')).toContain('npm ci --omit=dev');
    // The runtime stage builds nothing and copies no sources: only what earlier stages made.
    expect(keywords(runtime, 'RUN')).toEqual([]);
    expect(copies(runtime).every((c) => c.from === 'build' || c.from === 'deps')).toBe(true);
    // The same Node.js major as package.json's engines.
    const { engines } = JSON.parse(readFileSync(repo('package.json'), 'utf8')) as { engines: { node: string } };
    expect(DOCKERFILE).toContain(`ARG NODE_VERSION=${/\d+/.exec(engines.node)?.[0]}`);
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    for (const s of STAGES) {
      for (const copy of copies(s).filter((c) => c.from === undefined)) {
        for (const source of copy.sources) {
          const path = source.replace(/\/+$/, '').replace(/^\.\//, '');
          expect(existsSync(repo(path)), `Dockerfile:${copy.line} copies ${source}, which does not exist`).toBe(true);
          expect(IGNORED.filter((p) => p.test(path)).map(String), `Dockerfile:${copy.line} copies ${source}, which .dockerignore excludes`).toEqual([]);
        }
      }
    }
  });

  it('gives npm ci every workspace manifest, in both stages that run it', () => {
    const manifests = workspaceManifests();
    expect(manifests.length).toBeGreaterThan(3);
    for (const name of ['build', 'deps']) {
      const copied = copiedFromContext(stage(name));
      expect(['package.json', 'package-lock.json'].filter((m) => !covers(copied, m))).toEqual([]);
      expect(
        manifests.filter((m) => !covers(copied, m)),
        `stage ${name} misses workspace manifests`,
      ).toEqual([]);
    }
  });

  it('has every workspace in package-lock.json (npm ci, in the image and in CI, refuses a lock file out of step)', () => {
    const lock = JSON.parse(readFileSync(repo('package-lock.json'), 'utf8')) as { packages: Record<string, { name?: string }> };
    const missing = workspaceManifests()
      .map((m) => posix.dirname(m))
      .filter((dir) => lock.packages[dir]?.name !== (JSON.parse(readFileSync(repo(`${dir}/package.json`), 'utf8')) as { name: string }).name);
    expect(missing, 'run npm install --package-lock-only').toEqual([]);
  });

  it('copies into the runtime stage only what the build and deps stages have', () => {
    const built = builtPackages();
    expect(built).toEqual(expect.arrayContaining(['router', 'schemas', 'client']));
    const buildCopied = copiedFromContext(stage('build'));
    for (const copy of copies(stage('runtime'))) {
      for (const source of copy.sources) {
        expect(source.startsWith('/src/'), `Dockerfile:${copy.line}: ${source} is outside /src`).toBe(true);
        const path = source.slice('/src/'.length);
        if (copy.from === 'deps') {
          expect(path).toBe('node_modules');
          continue;
        }
        const dist = /^([^/]+)\/dist$/.exec(path);
        if (dist !== null) {
          // A build output: a package `tsc -b router` builds; it exists here after `npm run build`.
          expect(built, `Dockerfile:${copy.line}: nothing in the build stage makes ${path}`).toContain(dist[1]);
          expect(existsSync(repo(path)), `${path} is missing: run npm run build`).toBe(true);
        } else {
          expect(covers(buildCopied, path), `Dockerfile:${copy.line}: ${path} is never copied into the build stage`).toBe(true);
          expect(existsSync(repo(path)), `Dockerfile:${copy.line}: ${path} does not exist`).toBe(true);
        }
      }
    }
    // The entry point exists, in the repository and in the image, with what it imports.
    expect(existsSync(repo('router/bin/switchboard.js'))).toBe(true);
    expect(readFileSync(repo('router/bin/switchboard.js'), 'utf8')).toContain("from '../dist/cli.js'");
    expect(existsSync(repo('router/dist/cli.js')), 'router/dist/cli.js is missing: run npm run build').toBe(true);
    expect(copies(stage('runtime')).map((c) => c.destination)).toEqual(expect.arrayContaining(['/app/router/bin', '/app/router/dist']));
  });
});

/** `docker-compose config`: the compose file validated and normalised (absolute paths, long syntax). */
function composeConfig(): string {
  const compose = requireSystem('docker-compose');
  try {
    return execFileSync(compose, ['-f', repo('docker-compose.yml'), 'config'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`docker-compose config failed:\n${e.stderr ?? e.message}`);
  }
}

/** One service's block of the normalised config (services are indented by 2, their keys by 4). */
function serviceBlock(config: string, name: string): string {
  const match = new RegExp(`^  ${name}:\\n((?: {4,}.*\\n|\\s*\\n)*)`, 'm').exec(config);
  if (match === null) throw new Error(`no service ${name} in docker-compose config`);
  return match[1] ?? '';
}

/**
 * A service's bind mounts (absolute host paths; named volumes skipped): docker-compose 1.x writes
 * `- SOURCE:TARGET[:MODE]`, Compose v2 `- type: bind` with `source:` and `target:` lines.
 */
function bindMounts(block: string): { source: string; target: string }[] {
  const short = [...block.matchAll(/^ {4}- (\/[^:\s]+):(\/[^:\s]+)(?::(?:ro|rw))?$/gm)];
  const long = [...block.matchAll(/- type: bind\n(?:\s+\w+: .*\n)*?\s+source: (\S+)\n\s+target: (\S+)/g)];
  return [...short, ...long].map((m) => ({ source: m[1] ?? '', target: m[2] ?? '' }));
}

function environment(block: string): Record<string, string> {
  const env = /^ {4}environment:\n((?: {6}.*\n)*)/m.exec(block)?.[1] ?? '';
  return Object.fromEntries([...env.matchAll(/^ {6}([A-Z_]+): '?([^'\n]*)'?$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

describe('docker-compose.yml', () => {
  // Run once, by the first test that needs it (so that a missing docker-compose fails these tests, not the file).
  let normalised: string | undefined;
  const compose = (): string => (normalised ??= composeConfig());

  it('passes docker-compose config, with the router, a certificate maker and nginx', () => {
    expect(compose()).toMatch(/^services:$/m);
    for (const name of ['router', 'certs', 'nginx']) expect(() => serviceBlock(compose(), name)).not.toThrow();
    expect(serviceBlock(compose(), 'router')).toContain(`context: ${ROOT.replace(/\/$/, '')}\n`);
  });

  it('mounts only paths that exist in the repository', () => {
    for (const name of ['router', 'nginx']) {
      const mounts = bindMounts(serviceBlock(compose(), name));
      expect(mounts.length, `service ${name} mounts nothing from the repository`).toBeGreaterThan(0);
      for (const { source } of mounts) {
        expect(source.startsWith(ROOT), `${name} mounts ${source}, outside the repository`).toBe(true);
        expect(existsSync(source), `${name} mounts ${source}, which does not exist`).toBe(true);
      }
    }
  });

  /** A path in the router container → the file on this machine it comes from (a mount, or what the image copies). */
  const routerOnHost = (block: string): ((containerPath: string) => string | undefined) => {
    const mounts = bindMounts(block);
    // The image's own files: what the runtime stage copies to /app/<path> from the build stage's /src/<path>.
    const image = copies(stage('runtime')).flatMap((c) =>
      c.sources.map((source) => {
        const path = source.replace(/\/+$/, '').slice('/src/'.length);
        return { target: c.intoDirectory ? posix.join(c.destination, posix.basename(path)) : c.destination, source: repo(path).replace(/\/+$/, '') };
      }),
    );
    // The longest target wins, as the deepest mount or copy does in the container.
    const layers = [...mounts, ...image].sort((a, b) => b.target.length - a.target.length);
    return (containerPath) => {
      for (const m of layers) {
        if (containerPath === m.target || containerPath.startsWith(`${m.target}/`)) return m.source + containerPath.slice(m.target.length);
      }
      return undefined;
    };
  };

  it("the router's SWITCHBOARD_CONFIG is a mounted, valid config whose static directories exist in the container", () => {
    const block = serviceBlock(compose(), 'router');
    const configPath = environment(block)['SWITCHBOARD_CONFIG'];
    expect(configPath).toBeDefined();
    const onHost = routerOnHost(block);
    const file = onHost(configPath ?? '');
    expect(file, `${configPath} is neither mounted nor in the image`).toBeDefined();
    const loaded = loadConfig(file ?? '').file;
    const listener = loaded.listeners?.[0];
    expect(listener?.type).toBe('websocket');
    if (listener?.type !== 'websocket') return;
    expect(listener.port ?? 8080).toBe(8080); // what the nginx upstream and the HEALTHCHECK expect
    const mounted = posix.dirname(configPath ?? '');
    const hostDir = posix.dirname(file ?? '');
    for (const [prefix, mount] of Object.entries(listener.static ?? {})) {
      // loadConfig resolved the directory against the host copy of the file; the container resolves it against its own.
      const inContainer = posix.join(mounted, posix.relative(hostDir, mount.directory));
      const host = onHost(inContainer);
      expect(host, `static ${prefix}: ${inContainer} is neither mounted nor in the image`).toBeDefined();
      expect(existsSync(host ?? ''), `static ${prefix}: ${inContainer} comes from ${host}, which does not exist (npm run build?)`).toBe(true);
    }
  });

  it("the image's command starts the router from the compose environment, and its HEALTHCHECK passes against it", { timeout: 20_000 }, async () => {
    const block = serviceBlock(compose(), 'router');
    const env = environment(block);
    const config = routerOnHost(block)(env['SWITCHBOARD_CONFIG'] ?? '');
    expect(config).toBeDefined();
    // ENTRYPOINT + CMD (`switchboard start`) with the service's environment, the config file at its
    // host path; the port and the address are the test's own (the container's are 8080 and 0.0.0.0).
    const { url } = await startRouterProcess(['--host', '127.0.0.1'], { env: { ...process.env, ...env, SWITCHBOARD_CONFIG: config, SWITCHBOARD_PORT: '0' } });
    const port = new URL(url).port;
    const healthcheck = stage('runtime').instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
    const command = healthcheck.slice(healthcheck.indexOf(' CMD ') + ' CMD '.length);
    const run = (vars: Record<string, string>): number => {
      try {
        execFileSync('sh', ['-c', command], { env: { PATH: process.env['PATH'] ?? '', ...vars }, stdio: 'pipe', timeout: 10_000 });
        return 0;
      } catch (err) {
        return (err as { status?: number }).status ?? -1;
      }
    };
    expect(run({ PORT: port })).toBe(0);
    expect(run({ SWITCHBOARD_PORT: port, PORT: '1' })).toBe(0);
    expect(run({ PORT: '1' })).toBe(1); // nothing listens there
    expect((await fetch(`http://127.0.0.1:${port}/lib/switchboard.js`, { method: 'HEAD' })).status).toBe(200);
  });

  it('gives the nginx template every variable it uses, and points it at the router', () => {
    const block = serviceBlock(compose(), 'nginx');
    const env = environment(block);
    const template = bindMounts(block).find((m) => m.target.startsWith('/etc/nginx/templates/') && m.target.endsWith('.template'));
    expect(template, 'the nginx service mounts no template into /etc/nginx/templates').toBeDefined();
    const text = readFileSync(template?.source ?? '', 'utf8')
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    const used = [...new Set([...text.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1] ?? ''))];
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((v) => env[v] === undefined)).toEqual([]);
    expect(env['SWITCHBOARD_UPSTREAM']).toBe('router:8080');
    for (const port of [env['NGINX_HTTPS_PORT'], env['NGINX_HTTP_PORT']]) expect(block).toContain(`target: ${port}\n`);
  });
});
