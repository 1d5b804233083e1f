import { runNode, SOURCE_FLAGS, type Proc } from '../helpers/process.js';

/**
 * Service processes of one suite. Each is tracked from the moment it is spawned, so a start
 * that times out (a loaded machine) is still stopped by stopAll().
 */
export function serviceProcesses() {
  const procs: Proc[] = [];
  return {
    async start(service: 'authz-server' | 'resource-api', env: Record<string, string>, timeoutMs = 90_000): Promise<Proc> {
      const proc = runNode([...SOURCE_FLAGS, `${service}/main.ts`], env);
      procs.push(proc);
      await proc.waitFor(new RegExp(`${service} listening`), timeoutMs);
      return proc;
    },
    async stopAll(): Promise<void> {
      await Promise.all(procs.map((p) => p.stop(5000)));
    },
  };
}
