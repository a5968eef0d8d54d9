/**
 * How a broker process is best run: what `squadron up` gives the brokers it starts, and what a
 * deployment should give `squadron broker`. A broker holding a deep durable queue lives on a
 * steady index and a stream of short-lived buffers:
 * - a small young generation (4 MiB semi-spaces, V8's default grows to 16 MiB each) keeps the
 *   resident heap close to what is live, and scavenges short;
 * - a fixed malloc mmap threshold stops glibc from raising it after a large buffer is freed
 *   (the index growing, the log scanned at start), which would put later mid-sized buffers on a
 *   heap that fragments and never shrinks.
 */
export const BROKER_RUNTIME = {
  execArgv: ['--max-semi-space-size=4'],
  env: { MALLOC_MMAP_THRESHOLD_: '131072' },
} as const;
