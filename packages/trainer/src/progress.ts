/** Progress display: a redrawn bar on a terminal, plain log lines otherwise. */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `h:mm:ss` or `m:ss`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const two = (value: number) => String(value).padStart(2, '0');
  return hours > 0 ? `${hours}:${two(minutes)}:${two(secs)}` : `${minutes}:${two(secs)}`;
}

/** A text bar of `width` cells, `fraction` in [0, 1] filled. */
export function renderBar(fraction: number, width: number): string {
  const clamped = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export interface ProgressUpdate {
  /** Steps done in this epoch (1-based after the first step). */
  step: number;
  loss: number;
  accuracy: number;
  /** Images processed in this epoch so far. */
  images: number;
}

export interface ProgressOptions {
  stream: ProgressStream;
  mode: 'auto' | 'bar' | 'plain' | 'none';
  /** Minimum seconds between two plain lines (default 10). */
  plainIntervalSeconds?: number;
  now?: () => number;
}

/**
 * Shows training progress: on a TTY (or mode `bar`) one redrawn line with a bar, loss, accuracy, images/s and
 * ETA; otherwise (mode `plain`) a line at most every `plainIntervalSeconds` and one per finished epoch.
 */
export class ProgressReporter {
  readonly mode: 'bar' | 'plain' | 'none';
  private readonly stream: ProgressStream;
  private readonly interval: number;
  private readonly now: () => number;
  private label = '';
  private totalSteps = 0;
  private startedAt = 0;
  private lastPlainAt = 0;
  private barDrawn = false;

  constructor(options: ProgressOptions) {
    this.stream = options.stream;
    this.mode = options.mode === 'auto' ? (options.stream.isTTY ? 'bar' : 'plain') : options.mode;
    this.interval = options.plainIntervalSeconds ?? 10;
    this.now = options.now ?? (() => performance.now() / 1000);
  }

  /** Starts an epoch of `totalSteps` steps, labelled e.g. `stage 1 epoch 3/10`. */
  startEpoch(label: string, totalSteps: number): void {
    this.label = label;
    this.totalSteps = totalSteps;
    this.startedAt = this.now();
    this.lastPlainAt = this.startedAt;
  }

  /** The status text for an update (also used by tests). */
  formatStatus(update: ProgressUpdate): string {
    const elapsed = Math.max(this.now() - this.startedAt, 1e-9);
    const imagesPerSecond = update.images / elapsed;
    const stepsPerSecond = update.step / elapsed;
    const eta = stepsPerSecond > 0 ? (this.totalSteps - update.step) / stepsPerSecond : Number.NaN;
    return (
      `${this.label} ${update.step}/${this.totalSteps} loss ${update.loss.toFixed(4)} ` +
      `acc ${(100 * update.accuracy).toFixed(1)}% ${imagesPerSecond.toFixed(1)} img/s ETA ${formatDuration(eta)}`
    );
  }

  update(update: ProgressUpdate): void {
    if (this.mode === 'none') return;
    const status = this.formatStatus(update);
    if (this.mode === 'bar') {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 100) - status.length - 4));
      const line = `${renderBar(update.step / Math.max(this.totalSteps, 1), width)} ${status}`;
      this.stream.write(`\r\u001b[2K${line}`);
      this.barDrawn = true;
      return;
    }
    const now = this.now();
    if (now - this.lastPlainAt >= this.interval) {
      this.lastPlainAt = now;
      this.stream.write(`${status}\n`);
    }
  }

  /** Ends the epoch with one summary line (kept on screen in bar mode). */
  endEpoch(summary: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'bar' && this.barDrawn) this.stream.write('\r\u001b[2K');
    this.barDrawn = false;
    this.stream.write(`${summary}\n`);
  }

  /** Prints a message on its own line (clearing a drawn bar first). */
  log(message: string): void {
    if (this.mode === 'bar' && this.barDrawn) {
      this.stream.write('\r\u001b[2K');
      this.barDrawn = false;
    }
    if (this.mode !== 'none') this.stream.write(`${message}\n`);
  }
}
