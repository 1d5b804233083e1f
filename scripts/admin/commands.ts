import type { Command } from './types.js';
import { dbCommands } from './db.js';
import { configCommands } from './config.js';

/** Every admin command; later features add their groups (users:, clients:, keys:) here. */
export const commands: Record<string, Command> = { ...dbCommands, ...configCommands };
