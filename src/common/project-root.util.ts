import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type PackageJson = { name?: string; version?: string };

function readPackage(dir: string): PackageJson | undefined {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/**
 * The hazwatch project root: the nearest ancestor of `from` holding hazwatch's package.json. Works from src/realtime
 * (ts via jest) and from dist/src/realtime (after `npm run build`).
 */
export function findProjectRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (readPackage(dir)?.name === 'hazwatch') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`hazwatch project root not found above ${from}`);
    dir = up;
  }
}

/** The server version reported in the /ws `hello` frame (package.json version). */
export function serverVersion(root: string = findProjectRoot()): string {
  return readPackage(root)?.version ?? '0.0.0';
}
