export { Agent } from './agent.ts';
export type { AgentOptions, AgentControl } from './agent.ts';
export { InstanceSupervisor } from './instance-supervisor.ts';
export type { Runner, InstanceSpec, InstanceChange, SupervisorOptions } from './instance-supervisor.ts';
export { AgentError, SupervisorError } from './errors.ts';
export { readRssBytes, readCpuTicks, CpuSampler, CLOCK_TICKS_PER_SECOND } from './proc-stats.ts';
