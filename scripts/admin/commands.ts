import type { Command } from './types.js';
import { dbCommands } from './db.js';
import { configCommands } from './config.js';
import { clientCommands } from './clients.js';
import { keyCommands } from './keys.js';
import { userCommands } from './users.js';
import { auditCommands } from './audit.js';

/** Every admin command; later features add their groups (users:, clients:, keys:) here. */
export const commands: Record<string, Command> = { ...dbCommands, ...configCommands, ...clientCommands, ...keyCommands, ...userCommands, ...auditCommands };
