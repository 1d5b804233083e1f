export const epochTime = (ms = Date.now()): number => Math.floor(ms / 1000);
