import { randomBytes } from 'node:crypto';
import { createCache } from '#shared/cache/index.js';
import { createLogger } from '#shared/logging/logger.js';
import { REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../../helpers/services.js';
import { cacheContract } from './cache.contract.js';

const logger = createLogger({ level: 'silent', service: 'test' });
// A fresh prefix per run keeps parallel runs and leftovers of crashed runs apart.
const runPrefix = `portcullis:test:${randomBytes(6).toString('hex')}:`;

describe('Cache contract — memory', () => {
  cacheContract(() => createCache({ backend: 'memory' }, logger), runPrefix);
});

describeWithService('Cache contract — Redis', REDIS_URL, REDIS_SKIP_REASON, (url) => {
  cacheContract(
    (keyPrefix) =>
      createCache({ backend: 'redis', url, keyPrefix, commandTimeoutMs: 2_000, connectTimeoutMs: 2_000 }, logger),
    runPrefix,
  );
});
