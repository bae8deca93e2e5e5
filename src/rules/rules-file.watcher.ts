/**
 * Watches CONFIG_DIR/rules.yaml for changes (fs.watch on the directory, so editors that replace the file by rename are
 * seen too), debounced: one `onChange` per burst of writes.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { JsonLogger } from '../common/logger';

export class RulesFileWatcher {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private readonly log = new JsonLogger('rules');

  constructor(
    private readonly file: string,
    private readonly onChange: () => void,
    private readonly debounceMs = 300,
  ) {}

  start(): void {
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, filename) => {
        if (filename !== null && filename.toString() !== name) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.onChange();
        }, this.debounceMs);
      });
      this.watcher.on('error', (err) =>
        this.log.error('rules file watcher failed; hot reload is off until restart', {
          file: this.file,
          err,
        }),
      );
      this.log.info('watching rules for hot reload', { file: this.file });
    } catch (err) {
      this.log.error('cannot watch rules file; hot reload is off', { file: this.file, err });
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }
}
