import { runService } from '#shared/boot/run-service.js';
import { authzServerService } from './service.js';

await runService(authzServerService);
