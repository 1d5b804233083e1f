import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '#shared/config/index.js';

/** A development config in a fresh temp DATA_DIR; `cleanup()` removes the folder. */
export async function testConfig(env: Record<string, string> = {}): Promise<{ config: Config; dataDir: string; cleanup(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-test-'));
  const { config } = await loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, ...env });
  return { config, dataDir, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}
