/**
 * How a broker process is best run: what `squadron up` gives the brokers it starts, and what a
 * deployment should give `squadron broker`. A broker holding a deep durable queue lives on a
 * steady index and a stream of short-lived buffers:
 * - a young generation of 16 MiB semi-spaces, pinned: smaller ones (4 MiB were tried) made
 *   scavenges more frequent and raised the enqueue acknowledgement p99 by about a millisecond
 *   under 256 in flight, while a million queued messages peaked at 150 MB of RSS either way;
 * - a fixed malloc mmap threshold stops glibc from raising it after a large buffer is freed
 *   (the index growing, the log scanned at start), which would put later mid-sized buffers on a
 *   heap that fragments and never shrinks.
 */
export const BROKER_RUNTIME = {
  execArgv: ['--max-semi-space-size=16'],
  env: { MALLOC_MMAP_THRESHOLD_: '131072' },
} as const;
