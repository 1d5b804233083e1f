import { runService } from '#shared/boot/run-service.js';
import { resourceApiService } from './service.js';

await runService(resourceApiService);
