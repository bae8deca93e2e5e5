/** Spoken prompt audio: espeak-ng (Chinese voice) + sox → 8 kHz μ-law, generated at run time and cached on disk. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { JsonLogger } from '../../../common/logger';
import { fallbackPrompt } from './rtp';

const run = promisify(execFile);

export class PromptAudio {
  private readonly memory = new Map<string, Promise<{ audio: Buffer; synthesized: boolean }>>();

  constructor(
    private readonly dir: string,
    private readonly voice: string,
    private readonly log: JsonLogger,
  ) {}

  /** μ-law 8 kHz audio of the text; beeps (and a loud log line) when espeak-ng or sox is missing or fails. */
  get(text: string): Promise<{ audio: Buffer; synthesized: boolean }> {
    const key = createHash('sha256').update(`${this.voice}\n${text}`).digest('hex').slice(0, 24);
    let p = this.memory.get(key);
    if (!p) {
      p = this.make(key, text);
      this.memory.set(key, p);
      if (this.memory.size > 256) this.memory.delete(this.memory.keys().next().value as string);
    }
    return p;
  }

  private async make(key: string, text: string): Promise<{ audio: Buffer; synthesized: boolean }> {
    const file = join(this.dir, `${key}.ul`);
    if (existsSync(file)) return { audio: readFileSync(file), synthesized: true };
    try {
      mkdirSync(this.dir, { recursive: true });
      const wav = join(this.dir, `${key}.${process.pid}.wav`);
      const tmp = join(this.dir, `${key}.${process.pid}.ul`);
      await run('espeak-ng', ['-v', this.voice, '-s', '150', '-w', wav, '--', text], { timeout: 20_000 });
      await run('sox', [wav, '-r', '8000', '-c', '1', '-e', 'u-law', '-t', 'raw', tmp], { timeout: 20_000 });
      rmSync(wav, { force: true });
      renameSync(tmp, file);
      return { audio: readFileSync(file), synthesized: true };
    } catch (err) {
      this.log.error(
        'cannot synthesise the spoken prompt (install espeak-ng and sox): calls play beeps instead',
        { err },
      );
      return { audio: fallbackPrompt(), synthesized: false };
    }
  }
}
