/**
 * The system packages some tests need (CI installs them all in .ci/run). Outside CI a missing one
 * fails the test at once with what is missing and how to install it — not an obscure spawn error
 * later, and never a silent skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

interface SystemPackage {
  /** The binary, first found wins; an environment variable may name another. */
  readonly paths: readonly string[];
  readonly env?: string;
  /** For a Python package: the `import` that must work under /usr/bin/python3. */
  readonly imports?: string;
  /** What `apt-get install -y` needs. */
  readonly apt: string;
}

const PYTHON = '/usr/bin/python3';

const PACKAGES = {
  'nats-server': { paths: ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'], apt: 'nats-server' },
  chromium: { paths: ['/usr/bin/chromium'], env: 'CHROMIUM_PATH', apt: 'chromium' },
  nginx: { paths: ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'], apt: 'nginx' },
  'docker-compose': { paths: ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'], apt: 'docker-compose' },
  openssl: { paths: ['/usr/bin/openssl', '/usr/local/bin/openssl'], apt: 'openssl' },
  python3: { paths: [PYTHON], apt: 'python3' },
  'python3-autobahn': { paths: [PYTHON], imports: 'autobahn, cbor2, msgpack', apt: 'python3-autobahn python3-cbor2 python3-msgpack' },
  'python3-django': { paths: [PYTHON], imports: 'django', apt: 'python3-django' },
  'python3-yaml': { paths: [PYTHON], imports: 'yaml', apt: 'python3-yaml' },
} as const satisfies Record<string, SystemPackage>;

export type SystemPackageName = keyof typeof PACKAGES;

const found = new Map<SystemPackageName, string>();

/**
 * The path of the binary `name` needs (for a Python package: /usr/bin/python3, once its imports
 * work); throws, naming the package and the install command, if it is not there.
 */
export function requireSystem(name: SystemPackageName): string {
  const known = found.get(name);
  if (known !== undefined) return known;
  const pkg: SystemPackage = PACKAGES[name];
  const override = pkg.env === undefined ? undefined : process.env[pkg.env];
  const candidates = override !== undefined && override !== '' ? [override] : pkg.paths;
  const install = `apt-get install -y ${pkg.apt} (.ci/run installs it${pkg.env === undefined ? '' : `, or set ${pkg.env}`})`;
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) throw new Error(`this test needs ${name}, not found at ${candidates.join(' or ')}: ${install}`);
  if (pkg.imports !== undefined) {
    try {
      execFileSync(path, ['-c', `import ${pkg.imports}`], { stdio: 'pipe', timeout: 15_000 });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) ?? String(error);
      throw new Error(`this test needs ${name} (${path} -c 'import ${pkg.imports}' failed: ${stderr}): ${install}`, { cause: error });
    }
  }
  found.set(name, path);
  return path;
}
