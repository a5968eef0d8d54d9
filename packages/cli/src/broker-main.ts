// The entry of a broker process that `squadron up` starts: the `broker` command alone. It is
// bundled and run by plain Node (platform/runtime-bundles.ts), so that a long-lived broker does
// not carry the TypeScript loader.
import { baseProgram } from './program.ts';
import { registerBroker } from './commands/broker.ts';

const program = baseProgram();
registerBroker(program);
await program.parseAsync(process.argv);
