/**
 * An instance's memory ceiling, in MiB: what `squadron deploy --max-memory` sets, the control
 * plane keeps with the release and the agent enforces. The floor is what an instance needs at
 * rest (about 95 MiB with the runner loaded), with room to work; the API refuses anything outside.
 */
export const MEMORY_CEILING_MB: Readonly<{ default: number; min: number; max: number }> = Object.freeze({
  default: 256,
  min: 128,
  max: 65_536,
});
