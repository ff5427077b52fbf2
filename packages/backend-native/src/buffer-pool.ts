/**
 * Recycles the Float32Arrays of disposed tensors for the outputs of native kernels.
 *
 * tfjs allocates a new output array for every op; at ResNet sizes (8 MiB activations) that means calloc
 * zeroing, page faults, and V8 garbage collections triggered by ArrayBuffer ("external memory") pressure.
 * An array is recycled only when it is certain that nothing else can see it:
 * - it was allocated here (an output of a native kernel), and
 * - it was never read out to JS (`dataSync`/`data`: the backend's read/readSync mark it), and
 * - it was never the input of a `cpu` kernel that might return a view of it (e.g. a contiguous Slice
 *   returns a subarray), except kernels known to share through the tensor reference count
 *   (Reshape, Identity, same-dtype Cast), and
 * - the backend actually freed its data (reference count zero).
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakSet<Float32Array>();
  private pooledBytes = 0;

  /** @param limitBytes upper bound of the memory kept for reuse; @param minimumLength smaller arrays are not pooled */
  constructor(
    private limitBytes = 256 * 2 ** 20,
    private readonly minimumLength = 16384,
  ) {}

  /** An array of `length` floats with unspecified contents (the caller writes every element). */
  allocate(length: number): Float32Array {
    if (length < this.minimumLength) return new Float32Array(length);
    const list = this.free.get(length);
    const recycled = list?.pop();
    if (recycled) {
      this.pooledBytes -= recycled.byteLength;
      return recycled;
    }
    const array = new Float32Array(length);
    this.owned.add(array);
    return array;
  }

  /** Excludes an array from recycling for good (it was exposed or may be aliased). */
  markShared(values: unknown): void {
    if (values instanceof Float32Array) this.owned.delete(values);
  }

  /** Called when the backend freed a tensor's data. */
  release(values: unknown): void {
    if (!(values instanceof Float32Array) || !this.owned.has(values)) return;
    if (this.pooledBytes + values.byteLength > this.limitBytes) {
      this.owned.delete(values);
      return;
    }
    const list = this.free.get(values.length);
    if (list) list.push(values);
    else this.free.set(values.length, [values]);
    this.pooledBytes += values.byteLength;
  }

  /** Drops every pooled array (they become ordinary garbage). */
  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }

  setLimit(bytes: number): void {
    this.limitBytes = bytes;
    if (bytes === 0) this.clear();
  }

  get bytes(): number {
    return this.pooledBytes;
  }
}
