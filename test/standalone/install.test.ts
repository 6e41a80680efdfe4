import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
  os?: string[];
  cpu?: string[];
  optional?: boolean;
  dev?: boolean;
}

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, LockPackage & { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>;
};

describe('the install', () => {
  // npm only warns (EBADENGINE) when a dependency needs a newer Node than `engines` promises; here
  // it is a failure, so raising the floor is a decision, not an accident of an upgrade.
  it('every package the lock installs on Linux runs on the oldest Node that `engines` allows', () => {
    const oldest = semver.minVersion(manifest.engines.node)?.version ?? '';
    expect(oldest).not.toBe('');
    const tooNew = Object.entries(lock.packages)
      .filter(([path, pkg]) => path !== '' && (pkg.os === undefined || pkg.os.includes('linux')))
      .filter(([, pkg]) => typeof pkg.engines === 'object' && !Array.isArray(pkg.engines) && pkg.engines.node !== undefined)
      .filter(([, pkg]) => !semver.satisfies(oldest, (pkg.engines as { node: string }).node))
      .map(([path, pkg]) => `${path.replace(/^node_modules\//, '')}@${pkg.version} needs node ${(pkg.engines as { node: string }).node}`);
    expect(tooNew, `engines.node is ${manifest.engines.node}`).toEqual([]);
  });

  it('the lock file is in step with package.json (what `npm ci` checks first)', () => {
    const locked = lock.packages[''];
    expect(locked?.dependencies).toEqual(manifest.dependencies);
    expect(locked?.devDependencies).toEqual(manifest.devDependencies);
    // Every optional platform package node-llama-cpp names is in the lock: a missing one made
    // `npm ci` refuse the lock on every machine ("Missing: @node-llama-cpp/win-x64@ from lock file").
    const nodeLlamaCpp = lock.packages['node_modules/node-llama-cpp'] as { optionalDependencies?: Record<string, string> };
    const missing = Object.keys(nodeLlamaCpp.optionalDependencies ?? {}).filter((name) => lock.packages[`node_modules/${name}`] === undefined);
    expect(missing).toEqual([]);
  });
});
