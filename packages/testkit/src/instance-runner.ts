/** How the platform's agents run releases: the instance runtime's bundle under plain Node. */
export interface InstanceRunner {
  script: string;
  execArgv: readonly string[];
  args: readonly string[];
}

/** The runner an agent in a test uses, as `squadron agent` does (the bundle is made on first use). */
export async function instanceRunner(): Promise<InstanceRunner> {
  const { instanceScript, INSTANCE_EXEC_ARGV } = await import('@squadron/cli');
  return { script: await instanceScript(), execArgv: INSTANCE_EXEC_ARGV, args: [] };
}
