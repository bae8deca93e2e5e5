/** A configuration problem: names the file (or variable), the path inside it and the reason. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ReadonlyArray<{ path: string; reason: string }>,
  ) {
    super(
      `Invalid configuration in ${file}:\n` + problems.map((p) => `  - ${p.path}: ${p.reason}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}
