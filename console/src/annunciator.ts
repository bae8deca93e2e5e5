/**
 * Audible annunciation per priority (WebAudio; no audio files): critical a fast two-tone, high a double beep, medium a
 * single beep, low none. Muting is the operator's choice, remembered in localStorage.
 */
import type { Priority } from './model';

const MUTE_KEY = 'hazwatch.muted';

export const TONES: Readonly<Record<Priority, ReadonlyArray<{ hz: number; at: number; len: number }>>> = {
  critical: [
    { hz: 880, at: 0, len: 0.18 },
    { hz: 660, at: 0.2, len: 0.18 },
    { hz: 880, at: 0.4, len: 0.18 },
    { hz: 660, at: 0.6, len: 0.18 },
  ],
  high: [
    { hz: 740, at: 0, len: 0.2 },
    { hz: 740, at: 0.3, len: 0.2 },
  ],
  medium: [{ hz: 600, at: 0, len: 0.25 }],
  low: [],
};

export class Annunciator {
  muted = typeof localStorage !== 'undefined' && localStorage.getItem(MUTE_KEY) === '1';
  /** Alerts sounded (or that would have sounded when audio is locked); shown as data-alerts for tests. */
  count = 0;
  private ctx: AudioContext | null = null;

  unlock(): void {
    if (!this.ctx && typeof AudioContext !== 'undefined') this.ctx = new AudioContext();
    if (this.ctx?.state === 'suspended') void this.ctx.resume();
  }

  toggleMute(): void {
    this.muted = !this.muted;
    localStorage.setItem(MUTE_KEY, this.muted ? '1' : '0');
  }

  sound(priority: Priority): boolean {
    if (this.muted || TONES[priority].length === 0) return false;
    this.count++;
    document.documentElement.dataset.alerts = String(this.count);
    const ctx = this.ctx;
    if (!ctx) return true;
    const start = ctx.currentTime + 0.02;
    for (const tone of TONES[priority]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = tone.hz;
      gain.gain.setValueAtTime(0.0001, start + tone.at);
      gain.gain.exponentialRampToValueAtTime(0.2, start + tone.at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + tone.at + tone.len);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + tone.at);
      osc.stop(start + tone.at + tone.len + 0.02);
    }
    return true;
  }
}
