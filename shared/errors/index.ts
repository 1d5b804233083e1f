export { AppError, isAppError, type AppErrorOptions } from './app-error.js';
export { HttpErrors, StorageErrors, appError, type ErrorCatalog } from './catalog.js';
