/**
 * What the function writes to stdout, which Lambda ships to CloudWatch Logs: Powertools' JSON
 * log lines and its EMF metric blobs. While counting, the writes are swallowed (they are the
 * function's logs, not the bench's output) and only their size is kept. Lambda's own platform
 * lines (START, END, REPORT) are not written here and so not counted.
 */
export class StdoutLogMeter {
  #bytes = 0;
  #lines = 0;
  #original: typeof process.stdout.write | undefined;

  start(): void {
    if (this.#original !== undefined) return;
    this.#original = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array, encodingOrCallback?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      this.#bytes += Buffer.byteLength(text);
      this.#lines += text.split('\n').filter((line) => line.length > 0).length;
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  }

  stop(): void {
    if (this.#original === undefined) return;
    process.stdout.write = this.#original;
    this.#original = undefined;
  }

  /** Bytes and lines since the last take. */
  take(): { bytes: number; lines: number } {
    const taken = { bytes: this.#bytes, lines: this.#lines };
    this.#bytes = 0;
    this.#lines = 0;
    return taken;
  }
}
